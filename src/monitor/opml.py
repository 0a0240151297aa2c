"""OPML subscription lists: import into feeds.yaml (round-trip YAML) and export as OPML 2.0.

Import parses with listparser (lenient about real-world quirks such as miscapitalised
attributes and folder hierarchies) after a strict well-formedness check, because listparser's
recovering parser would otherwise read any broken file as an empty list. feeds.yaml is edited
with ruamel.yaml so its comments, order and quoting survive, and the edited file is written
atomically, after it has been loaded through the project's own config loader: a file the
loader would refuse is never written.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .config import load_settings
from .errors import ConfigError, MonitorError

_HTTP = re.compile(r"^https?://[^/\s]+", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # titles are printed to a terminal


class OpmlError(MonitorError):
    """A file that is not a usable OPML subscription list (one line, names the file)."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str = ""
    tags: tuple[str, ...] = ()
    html_url: str | None = None  # the feed's web site, when something records it


@dataclass(frozen=True)
class ImportReport:
    added: tuple[OpmlFeed, ...]
    skipped: tuple[tuple[OpmlFeed, str], ...]  # feed and why


# --- reading OPML ------------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """The identity used to spot duplicates: scheme and host lower-cased, default port and
    fragment dropped, an empty path made '/'. Path and query are kept as they are: servers
    may treat their case and order as meaningful."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def parse_opml(data: bytes, source: str) -> tuple[OpmlFeed, ...]:
    """The feed outlines of an OPML document, in document order; OpmlError if it is not one."""
    utf8 = _check_opml(data, source)
    import listparser

    # bytes only: listparser treats a str as a URL and would fetch it
    result = listparser.parse(utf8)
    feeds = []
    for item in result.feeds:
        url = str(item.get("url") or "").strip()
        if not url:
            continue
        title = " ".join(_CONTROL.sub(" ", str(item.get("title") or "")).split())
        feeds.append(OpmlFeed(url=url, title=title, tags=_tags(item.get("categories") or [])))
    if not feeds:
        raise OpmlError(f"{source}: no feed outlines (outline elements with an xmlUrl) in this OPML file")
    return tuple(feeds)


def _check_opml(data: bytes, source: str) -> bytes:
    """Strict XML, root element <opml> with a <body>; entities are never expanded. Returns the
    document re-encoded as UTF-8 with a declaration: listparser's HTML parser misreads UTF-8
    without a declaration and ISO-8859-1 with one, while lxml's XML parser reads both right."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        detail = " ".join(str(exc.msg or exc).split()) or "not well-formed"
        raise OpmlError(f"{source}: not a well-formed OPML file: {detail}") from None
    if root is None:
        raise OpmlError(f"{source}: not an OPML file: empty document")
    tag = etree.QName(root).localname if isinstance(root.tag, str) else ""
    if tag.lower() != "opml":
        raise OpmlError(f"{source}: not an OPML file: the root element is <{tag}>, not <opml>")
    if not any(isinstance(el.tag, str) and etree.QName(el).localname.lower() == "body" for el in root):
        raise OpmlError(f"{source}: not an OPML file: <opml> has no <body>")
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=True))


def _tags(categories: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Folders and category attributes → tags: a hierarchy becomes 'parent/child'."""
    tags = ("/".join(part.strip() for part in path if part.strip()) for path in categories)
    return tuple(dict.fromkeys(t for t in tags if t))


def read_opml(path: Path) -> tuple[OpmlFeed, ...]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OpmlError(f"{path}: file not found") from None
    except OSError as exc:
        raise OpmlError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_opml(data, str(path))


# --- import into feeds.yaml ------------------------------------------------------------------


def plan_import(existing: Iterable[str], feeds: Iterable[OpmlFeed]) -> ImportReport:
    """Pure: which feeds to add, which to skip and why (duplicate, not http(s))."""
    seen = {normalise_url(u) for u in existing}
    added: list[OpmlFeed] = []
    skipped: list[tuple[OpmlFeed, str]] = []
    for feed in feeds:
        key = normalise_url(feed.url)
        if not _HTTP.match(feed.url):
            skipped.append((feed, "not an http(s) URL"))
        elif key in seen:
            skipped.append((feed, "already in the feed list"))
        else:
            seen.add(key)
            scheme, sep, rest = feed.url.strip().partition("://")
            added.append(replace(feed, url=scheme.lower() + sep + rest))  # the loader wants http(s)://
    return ImportReport(added=tuple(added), skipped=tuple(skipped))


def import_opml(opml_path: Path, feeds_path: Path) -> ImportReport:
    """Add the OPML file's new feeds to feeds.yaml (created when missing); atomic."""
    feeds = read_opml(opml_path)
    if feeds_path.exists():
        current = load_settings(feeds_path)  # refuse to edit a file the loader rejects
        text = feeds_path.read_text(encoding="utf-8")
    else:
        current, text = None, ""
    report = plan_import((f.url for f in current.feeds) if current else (), feeds)
    if not report.added:
        return report
    new_text = add_feeds_yaml(text, report.added, source=str(feeds_path))
    _write_checked(feeds_path, new_text)
    return report


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    yaml = YAML()  # round-trip mode: comments, key order and quoting are kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long URL onto a continuation line
    seq_indent, offset = 4, 2  # the shipped feeds.yaml style ("  - url: ...")
    if text.strip():
        _, guessed, guessed_offset = load_yaml_guess_indent(text)
        if guessed:
            seq_indent, offset = guessed, guessed_offset or 0
    yaml.indent(mapping=max(seq_indent - offset, 2) if offset else seq_indent, sequence=seq_indent, offset=offset)
    return yaml


def add_feeds_yaml(text: str, feeds: Sequence[OpmlFeed], *, source: str = "feeds.yaml") -> str:
    """Pure: the feeds.yaml text with `feeds` appended to its feed list, all else unchanged."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    try:
        yaml = _yaml(text)
        doc = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {' '.join(str(exc).split())}") from None
    if doc is None:
        doc = CommentedMap()
    feed_list = doc if isinstance(doc, CommentedSeq) else None
    if isinstance(doc, CommentedMap):
        if not isinstance(doc.get("feeds"), CommentedSeq):
            doc["feeds"] = CommentedSeq()
        feed_list = doc["feeds"]
    if feed_list is None:
        raise ConfigError(f"{source}: expected a mapping with a 'feeds' list")
    previous_last = len(feed_list) - 1
    for feed in feeds:
        feed_list.append(_entry(feed))
    if previous_last >= 0:
        _move_trailing_comment(feed_list, previous_last)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _entry(feed: OpmlFeed) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    entry = CommentedMap()
    entry["url"] = _string(feed.url.strip())
    if feed.title and feed.title != feed.url:
        entry["name"] = _string(feed.title)
    if feed.tags:
        tags = CommentedSeq(_string(t) for t in feed.tags)
        tags.fa.set_flow_style()  # `tags: [a, b]`, as in the shipped file
        entry["tags"] = tags
    return entry


def _string(text: str) -> Any:
    """`text`, double-quoted when the config loader (PyYAML, YAML 1.1) would not read the plain
    scalar back as this string: `yes`, `null`, `123`, `a: b`... (ruamel writes YAML 1.2)."""
    import yaml as pyyaml
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    try:
        same = pyyaml.safe_load(text) == text
    except pyyaml.YAMLError:
        same = False
    return text if same else DoubleQuotedScalarString(text)


def _move_trailing_comment(feed_list: Any, index: int) -> None:
    """Comments and blank lines after the old last feed (e.g. the blank line before
    `settings:`) belong after the list: move them behind the new last feed."""
    from ruamel.yaml.comments import CommentedMap

    old = feed_list[index]
    if isinstance(old, CommentedMap) and old:
        slots, pos = old.ca.items.get(list(old.keys())[-1]), 2
    else:
        slots, pos = feed_list.ca.items.get(index), 0
    if not slots or slots[pos] is None:
        return
    token = slots[pos]
    head, newline, rest = token.value.partition("\n")
    if not rest:
        return
    token.value = head + newline  # an end-of-line comment stays with its feed
    moved = copy.copy(token)
    moved.value = "\n" + rest
    new = feed_list[-1]
    new.ca.items[list(new.keys())[-1]] = [None, None, moved, None]


def _write_checked(path: Path, text: str) -> None:
    """Only a file the config loader accepts replaces feeds.yaml."""

    def check(tmp: Path) -> None:
        try:
            load_settings(tmp)
        except ConfigError as exc:
            detail = str(exc).replace(str(tmp), str(path))
            raise ConfigError(f"import not written: the result would not load: {detail}") from None

    write_atomic(path, text, check=check)


def write_atomic(path: Path, text: str, *, check: Callable[[Path], None] | None = None) -> None:
    """Write a temporary file next to `path`, flush it to disk, `check` it, then rename it
    into place: readers see the old file or the new one, never a partial one. A symlink is
    followed, so the file it points to is the one replaced."""
    path = Path(os.path.realpath(path))
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if check is not None:
            check(tmp)
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# --- export ------------------------------------------------------------------------------------


def feeds_from_settings(feeds_path: Path) -> tuple[OpmlFeed, ...]:
    settings = load_settings(feeds_path)
    return tuple(OpmlFeed(url=f.url, title=f.name, tags=f.tags) for f in settings.feeds)


def export_opml(feeds: Sequence[OpmlFeed], *, title: str, now: datetime) -> str:
    """Pure: an OPML 2.0 document, one outline per feed, tags in the category attribute."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = feed.title or feed.url
        attrs = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
        if feed.html_url:
            attrs["htmlUrl"] = feed.html_url
        if feed.tags:
            attrs["category"] = ",".join(_category(t) for t in feed.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _category(tag: str) -> str:
    """OPML 2.0: a hierarchical category starts with '/', a plain tag does not; commas
    separate categories, so one inside a tag cannot survive and becomes a space."""
    tag = tag.replace(",", " ").strip()
    return "/" + tag.strip("/") if "/" in tag else tag
