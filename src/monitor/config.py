"""feeds.yaml + environment → a frozen Settings; seeds folder → Seeds.

Every validation error is one ConfigError naming the file and, where there is one, the entry.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .models import (
    DigestSettings,
    DigestTarget,
    FeedSpec,
    FetchSettings,
    ScoringSettings,
    Seed,
    SemanticSettings,
    Settings,
    SmtpSettings,
)

DEFAULT_INTERVAL = 1800.0
SEED_SUFFIXES = (".txt", ".md", ".html", ".htm")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_FEED_KEYS = {"url", "name", "tags", "interval", "full_text"}
_SEMANTIC_KEYS = {"model", "weight", "languages"}
_LANG = re.compile(r"^[a-z]{2,3}$")
DEFAULT_SEMANTIC_WEIGHT = 0.1
MAX_WORKERS = 64


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
    unknown = set(doc) - {"feeds", "settings"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    feeds_raw = doc.get("feeds") or []
    if not isinstance(feeds_raw, list):
        raise ConfigError(f"{path}: 'feeds' must be a list")
    feeds = tuple(_feed(path, i, item) for i, item in enumerate(feeds_raw, start=1))
    seen: set[str] = set()
    for i, feed in enumerate(feeds, start=1):
        if feed.url in seen:
            raise ConfigError(f"{path}: feed #{i} ({feed.url}): duplicate url")
        seen.add(feed.url)
    settings_raw = doc.get("settings") or {}
    if not isinstance(settings_raw, dict):
        raise ConfigError(f"{path}: settings: must be a mapping")
    return Settings(
        feeds=feeds,
        digest=_digest(path, settings_raw.get("digest") or {}, env),
        fetch=_fetch(path, settings_raw.get("fetch") or {}, env),
        source=str(path),
        scoring=_scoring(path, settings_raw.get("scoring") or {}),
        **_workers(path, settings_raw),
    )


def _feed(path: Path, index: int, item: object) -> FeedSpec:
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: feed #{index}: expected a mapping with a url")
    label = f"feed #{index}" + (f" ({item['url']})" if isinstance(item.get("url"), str) else "")
    unknown = set(item) - _FEED_KEYS
    if unknown:
        raise ConfigError(f"{path}: {label}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
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


def _digest(path: Path, raw: object, env: Mapping[str, str]) -> DigestSettings:
    where = f"{path}: settings.digest"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    time = str(raw.get("time", "07:00"))
    if not _TIME.match(time):
        raise ConfigError(f"{where}.time: {time!r} is not HH:MM")
    timezone = str(raw.get("timezone", "UTC"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception:
        raise ConfigError(f"{where}.timezone: unknown timezone {timezone!r}") from None
    empty = raw.get("empty", "skip")
    if empty not in ("skip", "send"):
        raise ConfigError(f"{where}.empty: must be 'skip' or 'send'")
    targets_raw = raw.get("targets") or []
    if not isinstance(targets_raw, list):
        raise ConfigError(f"{where}.targets: must be a list")
    targets = tuple(_target(f"{where}.targets[{i}]", t, env) for i, t in enumerate(targets_raw))
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


def _target(where: str, raw: object, env: Mapping[str, str]) -> DigestTarget:
    from .digest import FORMATS

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    kind = raw.get("type")
    if kind == "file":
        directory = raw.get("dir", "digests")
        formats = raw.get("formats", ["md", "html", "json", "atom"])
        if not isinstance(formats, list) or not formats:
            raise ConfigError(f"{where}.formats: must be a non-empty list")
        bad = [f for f in formats if f not in FORMATS]
        if bad:
            raise ConfigError(f"{where}.formats: unknown format(s) {bad}; use {list(FORMATS)}")
        return DigestTarget(type="file", name=f"file:{directory}", dir=str(directory), formats=tuple(formats))
    if kind == "email":
        to = raw.get("to")
        if isinstance(to, str):
            to = [to]
        if not to or not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
            raise ConfigError(f"{where}.to: a list of email addresses is required")
        sender = raw.get("from")
        if not isinstance(sender, str) or "@" not in sender:
            raise ConfigError(f"{where}.from: an email address is required")
        smtp_raw = raw.get("smtp") or {}
        if not isinstance(smtp_raw, dict):
            raise ConfigError(f"{where}.smtp: must be a mapping")
        security = smtp_raw.get("security", "none")
        if security not in ("none", "starttls", "ssl"):
            raise ConfigError(f"{where}.smtp.security: must be none, starttls or ssl")
        port = smtp_raw.get("port", 465 if security == "ssl" else 25)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{where}.smtp.port: must be a port number")
        smtp = SmtpSettings(
            host=str(smtp_raw.get("host", "localhost")),
            port=port,
            security=str(security),
            user=env.get("MONITOR_SMTP_USER") or None,
            password=env.get("MONITOR_SMTP_PASSWORD") or None,
        )
        return DigestTarget(
            type="email",
            name="email:" + ",".join(sorted(to)),
            to=tuple(to),
            sender=sender,
            smtp=smtp,
        )
    raise ConfigError(f"{where}.type: must be 'file' or 'email'")


def _fetch(path: Path, raw: object, env: Mapping[str, str]) -> FetchSettings:
    where = f"{path}: settings.fetch"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
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
    for key in ("timeout", "deadline", "host_spacing"):
        if key in raw:
            if not isinstance(raw[key], int | float) or raw[key] < 0:
                raise ConfigError(f"{where}.{key}: must be a non-negative number of seconds")
            values[key] = float(raw[key])
    for key in ("max_feed_bytes", "max_page_bytes", "per_host"):
        if key in raw:
            if not isinstance(raw[key], int) or raw[key] <= 0:
                raise ConfigError(f"{where}.{key}: must be a positive integer")
            values[key] = raw[key]
    return FetchSettings(**values)


def _workers(path: Path, raw: Mapping[str, object]) -> dict[str, int]:
    """settings.workers: processes that extract and score pages; absent: the CPU count."""
    if "workers" not in raw:
        return {}  # the default is defined once, on Settings
    value = raw["workers"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WORKERS:
        raise ConfigError(
            f"{path}: settings.workers: must be an integer from 0 to {MAX_WORKERS} (0 or 1: extract in the "
            f"polling process), not {value!r}"
        )
    return {"workers": value}


def _scoring(path: Path, raw: object) -> ScoringSettings:
    where = f"{path}: settings.scoring"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = set(raw) - {"semantic"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    semantic = raw.get("semantic")
    return ScoringSettings(semantic=None if semantic is None else _semantic(f"{where}.semantic", semantic))


def _semantic(where: str, raw: object) -> SemanticSettings:
    """The optional embedding backend: {model: STR, weight: (0, 1], languages: [codes] | all}."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping with a model")
    unknown = set(raw) - _SEMANTIC_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    model = raw.get("model")
    if model is None:
        raise ConfigError(f"{where}.model: missing (a local model directory or an installed model name)")
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"{where}.model: must be a non-empty string (a model directory or name)")
    weight = raw.get("weight", DEFAULT_SEMANTIC_WEIGHT)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise ConfigError(f"{where}.weight: must be a number in (0, 1], not {weight!r}")
    langs_raw = raw.get("languages", ["en"])
    languages: tuple[str, ...] | None
    if langs_raw == "all":
        languages = None  # the model reads every language (a multilingual model)
    else:
        if isinstance(langs_raw, str):
            langs_raw = [langs_raw]
        if not isinstance(langs_raw, list) or not langs_raw or not all(isinstance(x, str) for x in langs_raw):
            raise ConfigError(f"{where}.languages: must be a non-empty list of language codes (e.g. [en]) or 'all'")
        bad = [x for x in langs_raw if not _LANG.match(x.strip().lower())]
        if bad:
            raise ConfigError(f"{where}.languages: {bad[0]!r} is not a language code (use e.g. en, pl)")
        languages = tuple(dict.fromkeys(x.strip().lower() for x in langs_raw))
    return SemanticSettings(model=model.strip(), weight=float(weight), languages=languages)


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
        if len(text.split()) < 20:
            raise ConfigError(f"{file}: seed has too little text ({len(text.split())} words)")
        seeds.append(Seed(name=file.name, text=text))
    if not seeds:
        raise ConfigError(f"{directory}: no seed articles (expected .txt, .md or .html files)")
    return tuple(seeds)
