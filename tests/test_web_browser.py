"""The web page as a person uses it: a real headless Chromium (Debian's chromium and
chromium-driver, driven by selenium) against `monitor serve`'s app in a uvicorn thread on
127.0.0.1, over a SQLite file filled by a real `monitor poll` of a loopback feed server.

Set MONITOR_SCREENSHOTS=DIR to keep screenshots of the main pages (docs/screenshots/ in the README).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import SEEDS, rss, run, seed_and_other, seed_page, write_feeds
from httpserver import TestServer
from monitor import app as application
from monitor.web import Running, start_in_thread

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SEED_FILES = sorted(SEEDS.glob("*.txt"))
SEED_FILE = SEED_FILES[0]
# This machine (and CI) has no network: everything that phones home is off.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,1000",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs the chromium and chromedriver binaries: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")  # a fresh profile
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(tmp_path: Path, server: TestServer) -> Iterator[tuple[str, Path, str]]:
    """A polled database (a matching feed and a failing one), a recorded digest, the server."""
    items = seed_and_other(server, SEED_FILE)
    for i, seed in enumerate(SEED_FILES[1:3], start=1):  # two more matches for a fuller digest
        seed_title, body = seed_page(seed)
        server.add(f"/a/seed{i}.html", body, content_type="text/html")
        items.append({"title": seed_title, "link": server.url(f"/a/seed{i}.html")})
    server.add("/feed.xml", rss(items), etag='"e1"')
    failing = server.fault("500")
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": server.url("/feed.xml"), "name": "Local news"}, {"url": failing, "name": "Broken feed"}],
    )
    common = ["--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db"]
    assert run(*common, "poll").exit_code == 0
    assert run(*common, "digest", "--format", "html", "--out", tmp_path / "d.html").exit_code == 0
    app = application.open_app(application.Paths(feeds=feeds, seeds=SEEDS, db=tmp_path / "m.db"))
    running: Running = start_in_thread(app, "127.0.0.1", 0, None)
    try:
        yield f"http://127.0.0.1:{running.port}", tmp_path / "m.db", failing
    finally:
        running.stop()
        app.close()


def shot(driver: Any, name: str) -> None:
    target = os.environ.get("MONITOR_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(target) / f"{name}.png"))


def test_read_search_open_judge_and_see_feed_health(browser: Any, site: tuple[str, Path, str]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    base, db, failing = site
    title = SEED_FILE.read_text(encoding="utf-8").splitlines()[0].strip()

    d.get(base + "/")
    assert d.find_element(By.TAG_NAME, "h1").text.startswith("Digest #")
    assert title in d.find_element(By.CSS_SELECTOR, "main").text
    # the three seeds are one story: one "New stories" entry, the other two folded into it
    [entry] = d.find_elements(By.CSS_SELECTOR, ".match")
    assert "New stories (1)" in d.find_element(By.CSS_SELECTOR, "main").text
    assert "3 articles in this digest" in entry.text
    shot(d, "digest")

    box = d.find_element(By.CSS_SELECTOR, "header input[name=q]")
    box.send_keys("Traoré North Korea")
    digest_page = d.find_element(By.TAG_NAME, "main")
    box.submit()
    # submit() may return before the results page replaces this one (seen on a loaded machine)
    WebDriverWait(d, 60).until(expected_conditions.staleness_of(digest_page))
    found = d.find_elements(By.CSS_SELECTOR, ".match h2 a")
    assert [a.text for a in found] == [title]  # the search narrowed three matches to one
    d.find_element(By.LINK_TEXT, "Matches").click()
    assert len(d.find_elements(By.CSS_SELECTOR, ".match")) == 3
    shot(d, "matches")
    d.back()

    d.find_elements(By.CSS_SELECTOR, ".match h2 a")[0].click()
    assert d.find_element(By.TAG_NAME, "h1").text == title
    assert d.find_element(By.CSS_SELECTOR, "mark.best").text.strip()
    assert "Not judged yet." in d.find_element(By.ID, "judgment").text
    article_url = d.current_url
    assert "Versions (1)" in d.find_element(By.ID, "versions").text
    shot(d, "article")

    before = d.find_element(By.ID, "judgment")
    d.find_element(By.CSS_SELECTOR, "#judgment button[value=irrelevant]").click()
    # the form posts and the page reloads; until it has, the old section is still there to read
    WebDriverWait(d, 60).until(expected_conditions.staleness_of(before))
    judgment = d.find_element(By.ID, "judgment").text
    assert "judged irrelevant" in judgment and "Threshold" in judgment
    d.get(article_url)  # reload the article's own page
    d.refresh()
    assert "judged irrelevant" in d.find_element(By.ID, "judgment").text
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT relevant FROM judgments").fetchall() == [(0,)]

    d.find_element(By.CSS_SELECTOR, "#story a").click()
    assert d.find_element(By.TAG_NAME, "h1").text.startswith("Story #")
    assert len(d.find_elements(By.CSS_SELECTOR, ".story-articles li")) == 3
    bars = d.find_elements(By.CSS_SELECTOR, "#coverage svg rect")
    assert bars and bars[-1].get_attribute("height") == "60"  # the busiest day is full height
    shot(d, "story")

    d.find_element(By.LINK_TEXT, "Feeds").click()
    row = d.find_element(By.CSS_SELECTOR, "tr.feed.failing")
    assert "Broken feed" in row.text and failing in row.text and "500" in row.text
    assert d.find_elements(By.CSS_SELECTOR, "tr.feed.ok")
    shot(d, "feeds")
