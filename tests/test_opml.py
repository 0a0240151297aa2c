"""OPML import into feeds.yaml (comments and order kept, atomic) and OPML 2.0 export, on real
OPML files from newsboat's test suite (tests/fixtures/opml/ATTRIBUTION.md)."""

from __future__ import annotations

import difflib
import os
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import click
import listparser
import pytest

from helpers import ROOT, run
from monitor.cli import cli
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.opml import (
    OpmlError,
    OpmlFeed,
    add_feeds_yaml,
    export_opml,
    feeds_from_settings,
    import_opml,
    normalise_url,
    parse_opml,
    plan_import,
    read_opml,
)

OPML = Path(__file__).resolve().parent / "fixtures" / "opml"
EXAMPLE = OPML / "newsboat_example.opml"
CATEGORY = OPML / "newsboat_category.opml"
NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)

EXAMPLE_FEEDS = [
    ("https://example.com/feed.xml", "example.com website", ()),
    ("https://example.com/mirrors/distrowatch.rss", "Distrowatch mirror", ()),
    ("https://example.com/feed.atom", "example.com website (Atom feed)", ()),
    ("https://example.com/feed.rss09", "example.com website (RSS 0.9 feed)", ()),
    ("https://blogs.example.com/~john/posts.rss", "John's musings", ("Blogs",)),
    ("https://blogs.example.com/~mike/.rss", "Notes by Mike", ("Blogs/friends",)),
    ("https://fred.example.com/writing/index.php?type=rss", "Fred on everything", ("eloquent",)),
]


def triples(feeds: object) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(f.url, f.title, f.tags) for f in feeds]  # type: ignore[attr-defined]


def project_feeds(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    shutil.copy(ROOT / "feeds.yaml", path)
    return path


def only_insertions(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`; fails if any line of `before` changed or moved."""
    a, b = before.splitlines(), after.splitlines()
    added = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        assert op in ("equal", "insert"), (op, a[i1:i2], b[j1:j2])
        if op == "insert":
            added.extend(b[j1:j2])
    return added


# --- reading ---------------------------------------------------------------------------------


def test_real_opml_folders_become_tags() -> None:
    assert triples(read_opml(EXAMPLE)) == EXAMPLE_FEEDS


def test_category_attribute_becomes_tags() -> None:
    (feed,) = read_opml(CATEGORY)
    assert feed.url == "http://feeds.bbci.co.uk/news/business/rss.xml?edition=int"
    assert feed.tags == ("tag one", "tag_two", "tag/three")
    assert feed.title == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a well-formed OPML file"),
        (EXAMPLE.read_bytes()[:400], "not a well-formed OPML file"),
        (b"<html><body><p>hello</p></body></html>", "the root element is <html>, not <opml>"),
        (ROOT.joinpath("feeds.yaml").read_bytes(), "not a well-formed OPML file"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "the root element is <rss>"),
        (b'<opml version="2.0"><head/></opml>', "<opml> has no <body>"),
        (b'<opml version="2.0"><body><outline text="folder"/></body></opml>', "no feed outlines"),
    ],
)
def test_broken_or_foreign_files_are_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError) as info:
        parse_opml(data, "in.opml")
    text = str(info.value)
    assert text.startswith("in.opml: ") and message in text and "\n" not in text


def test_entities_are_not_expanded() -> None:
    # "billion laughs": each entity is ten of the previous one, &h; would be 10^8 bytes
    chain = "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefg", "bcdefgh", strict=True))
    laughs = (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">{chain}]>'
        '<opml version="2.0"><body><outline text="&h;" xmlUrl="https://x.example/&h;"/></body></opml>'
    ).encode()
    try:
        feeds = parse_opml(laughs, "laughs.opml")
    except OpmlError:
        return  # refused outright is fine too
    assert all(len(f.url) < 100 and len(f.title) < 100 for f in feeds)


def test_normalise_url() -> None:
    assert normalise_url(" HTTPS://Example.COM:443/Feed.xml#top ") == "https://example.com/Feed.xml"
    assert normalise_url("http://example.com") == "http://example.com/"
    assert normalise_url("http://example.com:8080/a?b=1") == "http://example.com:8080/a?b=1"
    assert normalise_url("http://example.com/a?b=1") != normalise_url("http://example.com/a?b=2")
    assert normalise_url("http://example.com/A") != normalise_url("http://example.com/a")


def test_plan_skips_duplicates_and_non_http() -> None:
    feeds = [
        OpmlFeed("https://example.com/feed.xml#x"),
        OpmlFeed("https://new.example/rss"),
        OpmlFeed("HTTPS://NEW.example:443/rss"),
        OpmlFeed("exec:~/bin/feed.sh"),
    ]
    report = plan_import(["https://EXAMPLE.com/feed.xml"], feeds + [OpmlFeed("HTTP://Other.example/A")])
    assert [f.url for f in report.added] == ["https://new.example/rss", "http://Other.example/A"]
    assert [(f.url, why) for f, why in report.skipped] == [
        ("https://example.com/feed.xml#x", "already in the feed list"),
        ("HTTPS://NEW.example:443/rss", "already in the feed list"),
        ("exec:~/bin/feed.sh", "not an http(s) URL"),
    ]


# --- importing into feeds.yaml ---------------------------------------------------------------


def test_import_keeps_comments_order_and_loads(tmp_path: Path) -> None:
    feeds_path = project_feeds(tmp_path)
    before = feeds_path.read_text(encoding="utf-8")
    old = load_settings(feeds_path)

    result = run("--feeds", feeds_path, "feeds", "import", EXAMPLE)
    assert result.exit_code == 0, result.output
    assert "7 added, 0 skipped" in result.output

    after = feeds_path.read_text(encoding="utf-8")
    added = only_insertions(before, after)
    assert added[0] == "  - url: https://example.com/feed.xml" and "    tags: [Blogs/friends]" in added
    # the blank line that separated the feed list from `settings:` still does
    assert "\n    tags: [eloquent]\n\nsettings:\n" in after

    new = load_settings(feeds_path)
    assert new.feeds[: len(old.feeds)] == old.feeds
    assert new.digest == old.digest and new.fetch == old.fetch
    assert [(f.url, f.name, f.tags) for f in new.feeds[len(old.feeds) :]] == EXAMPLE_FEEDS
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.yaml"]  # no temporary file left


def test_second_import_adds_nothing_and_leaves_the_file_alone(tmp_path: Path) -> None:
    feeds_path = project_feeds(tmp_path)
    import_opml(EXAMPLE, feeds_path)
    text, mtime = feeds_path.read_text(encoding="utf-8"), feeds_path.stat().st_mtime_ns
    result = run("--feeds", feeds_path, "feeds", "import", EXAMPLE)
    assert result.exit_code == 0
    assert "0 added, 7 skipped" in result.output
    assert "skipped https://example.com/feed.xml: already in the feed list" in result.output
    assert feeds_path.read_text(encoding="utf-8") == text and feeds_path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "data",
    [b"", b"<opml><body><outline xmlUrl='https://a.example/'>", b"<html><body>not opml</body></html>"],
)
def test_broken_file_is_one_line_exit_2_and_nothing_written(tmp_path: Path, data: bytes) -> None:
    feeds_path = project_feeds(tmp_path)
    before = feeds_path.read_bytes()
    bad = tmp_path / "bad.opml"
    bad.write_bytes(data)
    result = run("--feeds", feeds_path, "feeds", "import", bad)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"monitor: error: {bad}: ") and result.stderr.count("\n") == 1
    assert feeds_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.opml", "feeds.yaml"]


def test_missing_opml_file(tmp_path: Path) -> None:
    result = run("--feeds", project_feeds(tmp_path), "feeds", "import", tmp_path / "nope.opml")
    assert result.exit_code == 2 and "nope.opml: file not found" in result.stderr


def test_feeds_yaml_the_loader_rejects_is_not_edited(tmp_path: Path) -> None:
    feeds_path = tmp_path / "feeds.yaml"
    feeds_path.write_text("feeds:\n  - url: https://a.example/\n    interval: often\n", encoding="utf-8")
    result = run("--feeds", feeds_path, "feeds", "import", EXAMPLE)
    assert result.exit_code == 2 and "bad interval 'often'" in result.stderr
    assert feeds_path.read_text(encoding="utf-8").endswith("interval: often\n")


def test_failed_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feeds_path = project_feeds(tmp_path)
    before = feeds_path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        import_opml(EXAMPLE, feeds_path)
    assert feeds_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.yaml"]


def test_a_symlinked_feeds_yaml_stays_a_symlink(tmp_path: Path) -> None:
    real = project_feeds(tmp_path)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    import_opml(CATEGORY, link)
    assert link.is_symlink()
    assert load_settings(real).feeds[-1].url == "http://feeds.bbci.co.uk/news/business/rss.xml?edition=int"


def test_import_creates_a_missing_feeds_yaml(tmp_path: Path) -> None:
    feeds_path = tmp_path / "feeds.yaml"
    report = import_opml(CATEGORY, feeds_path)
    assert len(report.added) == 1
    (feed,) = load_settings(feeds_path).feeds
    assert feed.url == "http://feeds.bbci.co.uk/news/business/rss.xml?edition=int"
    assert feed.tags == ("tag one", "tag_two", "tag/three")


@pytest.mark.parametrize(
    "text",
    [
        "# my feeds\n- https://old.example/rss  # plain url\n\n# the end\n",
        "feeds:\n- url: https://old.example/rss\n  name: 'Old'   # quoted\nsettings: {}\n",
        "feeds:\n",
        "settings:\n  digest: {time: '08:00'}\n",
    ],
)
def test_other_layouts_are_kept(tmp_path: Path, text: str) -> None:
    new = add_feeds_yaml(text, [OpmlFeed("https://new.example/rss", "New", ("a", "b/c"))])
    only_insertions(text, new)
    path = tmp_path / "feeds.yaml"
    path.write_text(new, encoding="utf-8")
    feeds = load_settings(path).feeds
    assert (feeds[-1].url, feeds[-1].name, feeds[-1].tags) == ("https://new.example/rss", "New", ("a", "b/c"))
    if "the end" in text:
        assert new.endswith("tags: [a, b/c]\n\n# the end\n")
        assert "# plain url" in new.splitlines()[1]


@pytest.mark.parametrize("title", ["yes", "null", "123", "1e3", "Foo: bar #baz", "- dash", "~", "'q' \"dq\""])
def test_titles_and_tags_yaml_would_misread_stay_strings(tmp_path: Path, title: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(add_feeds_yaml("", [OpmlFeed("https://new.example/rss", title, (title, "ok"))]), encoding="utf-8")
    (feed,) = load_settings(path).feeds
    assert (feed.name, feed.tags) == (title, (title, "ok"))


def test_control_characters_leave_titles() -> None:
    # C1 controls (here CSI, a terminal escape) are legal XML 1.0 characters
    data = '<opml version="2.0"><body><outline text="a\u009b31m\u0085b" xmlUrl="https://x.example/"/></body></opml>'
    (feed,) = parse_opml(data.encode("utf-8"), "x.opml")
    assert feed.title == "a 31m b"


@pytest.mark.parametrize(
    ("declaration", "encoding"),
    [("", "utf-8"), ('<?xml version="1.0"?>', "utf-8"), ('<?xml version="1.0" encoding="ISO-8859-1"?>', "latin-1")],
)
def test_encodings_follow_the_xml_rules(declaration: str, encoding: str) -> None:
    doc = f'{declaration}<opml version="2.0"><body><outline text="Zürich café" xmlUrl="https://x.example/"/></body></opml>'
    (feed,) = parse_opml(doc.encode(encoding), "x.opml")
    assert feed.title == "Zürich café"


def test_malformed_feeds_yaml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="malformed YAML"):
        add_feeds_yaml("feeds: [\n", [OpmlFeed("https://new.example/rss")])


# --- export ------------------------------------------------------------------------------------


def test_export_is_opml_2_with_tags_as_categories(tmp_path: Path) -> None:
    feeds_path = project_feeds(tmp_path)
    result = run("--feeds", feeds_path, "feeds", "export")
    assert result.exit_code == 0, result.stderr
    root = ET.fromstring(result.stdout)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "monitor feeds (feeds.yaml)"
    outlines = root.findall("body/outline")
    settings = load_settings(feeds_path)
    assert [o.get("xmlUrl") for o in outlines] == [f.url for f in settings.feeds]
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)
    assert outlines[0].get("category") == ",".join(settings.feeds[0].tags)
    # listparser, another reader, sees the same feeds, names and tags
    parsed = listparser.parse(result.stdout.encode("utf-8"))
    assert [(f.url, f.title, tuple(f.tags)) for f in parsed.feeds] == [(f.url, f.name, f.tags) for f in settings.feeds]


def test_export_escapes_hostile_names_and_keeps_hierarchies() -> None:
    feeds = [OpmlFeed("https://a.example/?x=1&y=2", 'A <b> & "c"', ("plain", "Blogs/friends", "x,y"))]
    text = export_opml(feeds, title="t & <u>", now=NOW)
    outline = ET.fromstring(text).find("body/outline")
    assert outline is not None
    assert outline.get("text") == 'A <b> & "c"' and outline.get("xmlUrl") == "https://a.example/?x=1&y=2"
    assert outline.get("category") == "plain,/Blogs/friends,x y"
    assert triples(parse_opml(text.encode("utf-8"), "x")) == [
        ("https://a.example/?x=1&y=2", 'A <b> & "c"', ("plain", "Blogs/friends", "x y"))
    ]


@pytest.mark.parametrize("fixture", [EXAMPLE, CATEGORY])
def test_real_files_round_trip(tmp_path: Path, fixture: Path) -> None:
    """OPML → feeds.yaml → OPML → the same feeds, names and tags."""
    feeds_path = tmp_path / "feeds.yaml"
    import_opml(fixture, feeds_path)
    out = tmp_path / "out.opml"
    result = run("--feeds", feeds_path, "feeds", "export", "--out", out)
    assert result.exit_code == 0, result.output
    original = [(f.url, f.title or f.url, f.tags) for f in read_opml(fixture)]
    assert triples(read_opml(out)) == original
    assert triples(feeds_from_settings(feeds_path)) == original
    # and importing the export again changes nothing
    before = feeds_path.read_bytes()
    assert import_opml(out, feeds_path).added == ()
    assert feeds_path.read_bytes() == before


# --- documentation -----------------------------------------------------------------------------


def test_feeds_commands_have_help_and_are_documented() -> None:
    group = cli.commands["feeds"]
    assert isinstance(group, click.Group) and sorted(group.commands) == ["export", "import"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in group.commands.items():
        assert command.help
        assert all(p.help for p in command.params if isinstance(p, click.Option))
        assert f"monitor feeds {name}" in readme
    assert run("feeds", "--help").exit_code == 0


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - url: ftp://a.example/\n", encoding="utf-8")
    result = run("--feeds", bad, "feeds", "export")
    assert result.exit_code == 2 and "url must start with http:// or https://" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    nowhere = run("--feeds", project_feeds(tmp_path), "feeds", "export", "--out", tmp_path / "no" / "x.opml")
    assert nowhere.exit_code == 2 and nowhere.stderr.startswith("monitor: error: ")
