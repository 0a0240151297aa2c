"""feeds.yaml + environment → a frozen Settings; seeds folder → Seeds.

Every validation error is one ConfigError naming the file and, where there is one, the entry.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from .errors import ConfigError
from .models import (
    CHANGE_NOTIFY,
    DEFAULT_INTERVAL,
    DIGEST_FORMATS,
    MAX_WORKERS,
    SMTP_PORTS,
    AppriseTarget,
    ChangeSettings,
    DigestSettings,
    DigestTarget,
    EmailTarget,
    FeedSpec,
    FetchSettings,
    FileTarget,
    ScoringSettings,
    Seed,
    SemanticSettings,
    Settings,
    SmtpSettings,
    WebSettings,
    default_workers,
)
from .models import DEFAULT_SEMANTIC_WEIGHT as DEFAULT_SEMANTIC_WEIGHT  # cli reads it from here

log = logging.getLogger(__name__)

SEED_SUFFIXES = (".txt", ".md", ".html", ".htm")
SHORT_SEED_WORDS = 20  # below this a seed is a headline, not an article
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_FEED_KEYS = ("url", "name", "tags", "interval", "full_text")
_LANG = re.compile(r"^[a-z]{2,3}$")
MIN_RETENTION = 7 * 86400  # > the story replay window (6 d), the copy window (3 d), re-checks (7 d)


def parse_interval(value: object) -> float:
    """'10s', '15m', '2h', '1d' or a number of seconds → seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(f"bad interval {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _INTERVAL.match(str(value))
        if not m:
            raise ValueError(f"bad interval {value!r} (use e.g. 10s, 15m, 2h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"bad interval {value!r}: must be positive")
    return seconds


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        doc = yaml.safe_load(raw_text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{line}: malformed YAML: {problem}") from None
    if doc is None:
        doc = {}
    if isinstance(doc, list):  # a bare list of feeds is accepted too
        doc = {"feeds": doc}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'feeds' list")
    _section(str(path), doc, ("feeds", "settings"))
    feeds_raw = doc.get("feeds") or []
    if not isinstance(feeds_raw, list):
        raise ConfigError(f"{path}: 'feeds' must be a list")
    feeds = tuple(_feed(path, i, item) for i, item in enumerate(feeds_raw, start=1))
    seen: set[str] = set()
    for i, feed in enumerate(feeds, start=1):
        if feed.url in seen:
            raise ConfigError(f"{path}: feed #{i} ({feed.url}): duplicate url")
        seen.add(feed.url)
    settings_raw = _section(
        f"{path}: settings",
        doc.get("settings") or {},
        ("digest", "fetch", "scoring", "web", "workers", "changes", "retention"),
    )
    return Settings(
        feeds=feeds,
        digest=_digest(path, settings_raw.get("digest") or {}, env),
        fetch=_fetch(path, settings_raw.get("fetch") or {}, env),
        source=str(path),
        scoring=_scoring(path, settings_raw.get("scoring") or {}),
        web=None if settings_raw.get("web") is None else _web(path, settings_raw["web"]),
        workers=_workers(f"{path}: settings.workers", settings_raw.get("workers", default_workers())),
        changes=_changes(path, settings_raw.get("changes") or {}),
        retention=_retention(f"{path}: settings.retention", settings_raw.get("retention")),
    )


def _feed(path: Path, index: int, item: object) -> FeedSpec:
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: feed #{index}: expected a mapping with a url")
    label = f"feed #{index}" + (f" ({item['url']})" if isinstance(item.get("url"), str) else "")
    _section(f"{path}: {label}", item, _FEED_KEYS)
    url = item.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{path}: {label}: missing url")
    url = url.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"{path}: {label}: url must start with http:// or https://")
    try:
        interval = parse_interval(item.get("interval", DEFAULT_INTERVAL))
    except ValueError as exc:
        raise ConfigError(f"{path}: {label}: {exc}") from None
    tags = item.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{path}: {label}: tags must be a list of strings")
    full_text = item.get("full_text", True)
    if not isinstance(full_text, bool):
        raise ConfigError(f"{path}: {label}: full_text must be true or false")
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{path}: {label}: name must be a string")
    return FeedSpec(url=url, name=name or url, tags=tuple(tags), interval=interval, full_text=full_text)


def _section(where: str, raw: object, allowed: Iterable[str]) -> dict[str, Any]:
    """A mapping whose keys are all known; anything else names the file, the path and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = sorted(str(k) for k in raw if k not in set(allowed))
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        raise ConfigError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {keys}")
    return raw


def _digest(path: Path, raw: object, env: Mapping[str, str]) -> DigestSettings:
    where = f"{path}: settings.digest"
    raw = _section(where, raw, ("time", "timezone", "empty", "targets", "templates"))
    default = DigestSettings()
    time = str(raw.get("time", default.time))
    if not _TIME.match(time):
        raise ConfigError(f"{where}.time: {time!r} is not HH:MM")
    timezone = str(raw.get("timezone", default.timezone))
    try:
        ZoneInfo(timezone)
    except Exception:
        raise ConfigError(f"{where}.timezone: unknown timezone {timezone!r}") from None
    empty = raw.get("empty", default.empty)
    if empty not in ("skip", "send"):
        raise ConfigError(f"{where}.empty: must be 'skip' or 'send'")
    targets_raw = raw.get("targets") or []
    if not isinstance(targets_raw, list):
        raise ConfigError(f"{where}.targets: must be a list")
    targets = tuple(x for i, t in enumerate(targets_raw) for x in _targets(f"{where}.targets[{i}]", t, env))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.targets: two targets deliver to the same place")
    templates = raw.get("templates")
    return DigestSettings(
        time=time,
        timezone=timezone,
        empty=str(empty),
        targets=targets,
        templates_dir=str(templates) if templates else None,
    )


def _file_target(where: str, raw: dict[str, Any], env: Mapping[str, str]) -> FileTarget:
    raw = _section(where, raw, ("type", "dir", "formats"))
    directory = raw.get("dir", FileTarget.dir)
    formats = raw.get("formats", list(FileTarget.formats))
    if not isinstance(formats, list) or not formats:
        raise ConfigError(f"{where}.formats: must be a non-empty list")
    bad = [f for f in formats if f not in DIGEST_FORMATS]
    if bad:
        raise ConfigError(f"{where}.formats: unknown format(s) {bad}; use {list(DIGEST_FORMATS)}")
    return FileTarget(dir=str(directory), formats=tuple(formats))


def _email_target(where: str, raw: dict[str, Any], env: Mapping[str, str]) -> EmailTarget:
    raw = _section(where, raw, ("type", "to", "from", "smtp"))
    to = raw.get("to")
    if isinstance(to, str):
        to = [to]
    if not to or not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
        raise ConfigError(f"{where}.to: a list of email addresses is required")
    sender = raw.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(f"{where}.from: an email address is required")
    return EmailTarget(to=tuple(to), sender=sender, smtp=_smtp(f"{where}.smtp", raw.get("smtp") or {}, env))


def _smtp(where: str, raw: object, env: Mapping[str, str]) -> SmtpSettings:
    raw = _section(where, raw, ("host", "port", "security"))
    default = SmtpSettings()
    security = raw.get("security", default.security)
    if security not in SMTP_PORTS:
        raise ConfigError(f"{where}.security: must be none, starttls or ssl")
    port = raw.get("port", SMTP_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}.port: must be a port number")
    return SmtpSettings(
        host=str(raw.get("host", default.host)),
        port=port,
        security=str(security),
        user=env.get("MONITOR_SMTP_USER") or None,
        password=env.get("MONITOR_SMTP_PASSWORD") or None,
    )


def _apprise_targets(where: str, raw: dict[str, Any], env: Mapping[str, str]) -> tuple[AppriseTarget, ...]:
    raw = _section(where, raw, ("type", "urls"))
    from .notify import apprise_targets  # imports Apprise only when an apprise target is configured

    return apprise_targets(where, raw.get("urls"))


# Reads one target section into the targets it names.
TargetReader = Callable[[str, dict[str, Any], Mapping[str, str]], tuple[DigestTarget, ...]]


def _one(reader: Callable[[str, dict[str, Any], Mapping[str, str]], DigestTarget]) -> TargetReader:
    return lambda where, raw, env: (reader(where, raw, env),)


# `type:` in feeds.yaml → the reader of that target's section (a new target type adds one line).
# A section may name several places (apprise: one target per URL, so each is delivered exactly once
# and retried alone), hence a tuple.
TARGET_READERS: dict[str, TargetReader] = {
    "file": _one(_file_target),
    "email": _one(_email_target),
    "apprise": _apprise_targets,
}


def _targets(where: str, raw: object, env: Mapping[str, str]) -> tuple[DigestTarget, ...]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    reader = TARGET_READERS.get(str(raw.get("type")))
    if reader is None:
        kinds = [repr(k) for k in TARGET_READERS]
        raise ConfigError(f"{where}.type: must be {', '.join(kinds[:-1])} or {kinds[-1]}")
    return reader(where, raw, env)


_FETCH_SECONDS = ("timeout", "deadline", "host_spacing")
_FETCH_COUNTS = ("max_feed_bytes", "max_page_bytes", "per_host")


def _fetch(path: Path, raw: object, env: Mapping[str, str]) -> FetchSettings:
    where = f"{path}: settings.fetch"
    raw = _section(where, raw, ("allow_hosts", *_FETCH_SECONDS, *_FETCH_COUNTS))
    allow: list[str] = []
    hosts = raw.get("allow_hosts") or []
    if not isinstance(hosts, list):
        raise ConfigError(f"{where}.allow_hosts: must be a list")
    allow.extend(str(h) for h in hosts)
    allow.extend(h.strip() for h in env.get("MONITOR_ALLOW_HOSTS", "").split(",") if h.strip())
    for host in allow:
        if "/" in host:
            try:
                ipaddress.ip_network(host, strict=False)
            except ValueError:
                raise ConfigError(f"{where}.allow_hosts: {host!r} is not a valid CIDR") from None
    values: dict[str, Any] = {"allow_hosts": tuple(allow)}
    for key in _FETCH_SECONDS:
        if key in raw:
            if isinstance(raw[key], bool) or not isinstance(raw[key], int | float) or raw[key] < 0:
                raise ConfigError(f"{where}.{key}: must be a non-negative number of seconds")
            values[key] = float(raw[key])
    for key in _FETCH_COUNTS:
        if key in raw:
            if isinstance(raw[key], bool) or not isinstance(raw[key], int) or raw[key] <= 0:
                raise ConfigError(f"{where}.{key}: must be a positive integer")
            values[key] = raw[key]
    return FetchSettings(**values)


def _workers(where: str, value: object) -> int:
    """settings.workers: processes that extract and score pages (0 or 1: the polling process)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WORKERS:
        raise ConfigError(
            f"{where}: must be an integer from 0 to {MAX_WORKERS} (0 or 1: extract in the polling process), "
            f"not {value!r}"
        )
    return value


def _retention(where: str, value: object) -> float | None:
    """settings.retention: how long the text of never-reported articles is kept (None: forever).
    At least MIN_RETENTION: copies, stories and re-checks read the texts of the last days."""
    if value is None or value is False or value == "off":
        return None
    try:
        seconds = parse_interval(value)
    except ValueError:
        seconds = -1.0
    if seconds < MIN_RETENTION:
        raise ConfigError(f"{where}: must be a duration of at least 7d (e.g. 90d) or off, not {value!r}")
    return seconds


def _changes(path: Path, raw: object) -> ChangeSettings:
    """settings.changes: {notify: material|all, recheck: [durations after first seen]}."""
    where = f"{path}: settings.changes"
    raw = _section(where, raw, ("notify", "recheck"))
    default = ChangeSettings()
    notify = raw.get("notify", default.notify)
    if notify not in CHANGE_NOTIFY:
        raise ConfigError(f"{where}.notify: must be one of {', '.join(CHANGE_NOTIFY)}")
    recheck = raw.get("recheck", list(default.recheck))
    if isinstance(recheck, str):
        recheck = [part for part in recheck.split(",") if part.strip()]
    if not isinstance(recheck, list):
        raise ConfigError(f"{where}.recheck: must be a list of durations (e.g. 1h, 6h, 1d)")
    try:
        ages = tuple(sorted(parse_interval(v) for v in recheck))
    except ValueError as exc:
        raise ConfigError(f"{where}.recheck: {exc}") from None
    return ChangeSettings(notify=notify, recheck=ages)


def _scoring(path: Path, raw: object) -> ScoringSettings:
    where = f"{path}: settings.scoring"
    raw = _section(where, raw, ("semantic",))
    semantic = raw.get("semantic")
    return ScoringSettings(semantic=None if semantic is None else _semantic(f"{where}.semantic", semantic))


def _web(path: Path, raw: object) -> WebSettings:
    """settings.web: {host: STR, port: 1..65535, base_url: http(s)://HOST[:PORT][/PATH]}."""
    where = f"{path}: settings.web"
    raw = _section(where, raw, ("host", "port", "base_url"))
    defaults = WebSettings()
    host = raw.get("host", defaults.host)
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise ConfigError(f"{where}.host: must be a host name or IP address")
    port = raw.get("port", defaults.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{where}.port: must be an integer from 1 to 65535")
    base = raw.get("base_url")
    if base is not None:
        if not isinstance(base, str) or not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", base):
            raise ConfigError(f"{where}.base_url: must be an http(s) URL without query or fragment")
        base = base.rstrip("/")
    return WebSettings(host=host, port=port, base_url=base)


def _semantic(where: str, raw: object) -> SemanticSettings:
    """The optional embedding backend: {model: STR, weight: (0, 1], languages: [codes] | all}."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping with a model")
    raw = _section(where, raw, ("model", "weight", "languages"))
    model = raw.get("model")
    if model is None:
        raise ConfigError(f"{where}.model: missing (a local model directory or an installed model name)")
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"{where}.model: must be a non-empty string (a model directory or name)")
    weight = raw.get("weight", DEFAULT_SEMANTIC_WEIGHT)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise ConfigError(f"{where}.weight: must be a number in (0, 1], not {weight!r}")
    return SemanticSettings(model=model.strip(), weight=float(weight), languages=_languages(where, raw))


def _languages(where: str, raw: dict[str, Any]) -> tuple[str, ...] | None:
    langs_raw = raw.get("languages", list(SemanticSettings.languages or ()))
    if langs_raw == "all":
        return None  # the model reads every language (a multilingual model)
    if isinstance(langs_raw, str):
        langs_raw = [langs_raw]
    if not isinstance(langs_raw, list) or not langs_raw or not all(isinstance(x, str) for x in langs_raw):
        raise ConfigError(f"{where}.languages: must be a non-empty list of language codes (e.g. [en]) or 'all'")
    bad = [x for x in langs_raw if not _LANG.match(x.strip().lower())]
    if bad:
        raise ConfigError(f"{where}.languages: {bad[0]!r} is not a language code (use e.g. en, pl)")
    return tuple(dict.fromkeys(x.strip().lower() for x in langs_raw))


def load_seeds(directory: Path) -> tuple[Seed, ...]:
    """Read .txt/.md/.html seeds; boilerplate is cleaned so it cannot drive the profile."""
    from .extract import html_to_text
    from .score import clean_seed_text

    if not directory.is_dir():
        raise ConfigError(f"{directory}: seeds folder not found")
    seeds = []
    for file in sorted(directory.iterdir()):
        if file.suffix.lower() not in SEED_SUFFIXES or file.name.startswith("."):
            continue
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read seed: {exc}") from None
        if file.suffix.lower() in (".html", ".htm"):
            text = html_to_text(raw)
        else:
            text = raw.decode("utf-8", errors="replace")
        text = clean_seed_text(text)
        if not text.split():
            raise ConfigError(f"{file}: seed is empty (a headline is enough)")
        seeds.append(Seed(name=file.name, text=text))
    if not seeds:
        raise ConfigError(f"{directory}: no seed articles (expected .txt, .md or .html files)")
    if all(len(s.text.split()) < SHORT_SEED_WORDS for s in seeds):
        # headlines work, but a few words leave little to tell a story from its neighbours
        log.warning(
            "%s: every seed is shorter than %d words; matches rest on a few words each",
            directory,
            SHORT_SEED_WORDS,
        )
    return tuple(seeds)
