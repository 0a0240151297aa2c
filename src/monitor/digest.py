"""Render a Digest as Markdown, HTML, plain text, JSON or an Atom feed.

Pure: the only I/O is loading Jinja2 templates, from ``templates_dir`` when given (a file of the
same name there overrides the packaged one) and from ``monitor/templates`` otherwise.

Templates see these variables:

``title``, ``count``, ``generated_at`` / ``since`` (human strings, ``since`` may be None),
``generated_at_iso`` / ``since_iso``, ``feed_id`` (Atom), and ``items``: a list of dicts with
``title``, ``url`` (as stored), ``link`` (the URL when it is http(s), else None: never put ``url``
in an href), ``feed``, ``published`` / ``published_iso`` (may be None), ``first_seen`` /
``first_seen_iso``, ``updated_iso``, ``score`` ("0.87"), ``explanation`` (one line derived from
``nearest_seed``, ``facets`` and ``terms``, which are given separately too), ``sentence``,
``changed``, ``atom_id``, ``page`` (the entry's web page, ``<base_url>/article/<id>``, when
``settings.web.base_url`` is set; else None), and the story fields: ``story``, ``story_status`` (new | more |
updated), ``story_first_reported`` (for "more"), ``story_articles``, ``coverage`` (the story's
other articles in this digest, folded into this entry: ``url``/``link``/``feed``),
``also_in`` (the copies of the article, same keys), ``revision`` and ``diff`` (for an update:
``summary``, ``material``, ``lines`` of ``op``/``before``/``after``). ``sections`` holds the
non-empty sections in order (``key``, ``heading``: "New stories", "More coverage", "Updated";
``items``) and ``counts`` the number per key (stories, articles, updates). Markdown templates
get a ``md`` filter (escape text), an ``md_url`` filter (encode a link destination) and an
``md_code`` filter (a line inside a fenced code block).

HTML and Atom templates are autoescaped. Naive datetimes are taken to be UTC.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from monitor.errors import ConfigError
from monitor.models import DIGEST_FORMATS, AlsoIn, Digest, MatchItem

FORMATS = DIGEST_FORMATS

TEMPLATES = {
    "md": "digest.md.j2",
    "html": "digest.html.j2",
    "text": "digest.txt.j2",
    "atom": "digest.atom.j2",
}

SECTION_HEADINGS = {"new": "New stories", "more": "More coverage", "updated": "Updated"}

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"

# Characters XML 1.0 forbids (and that have no business in a digest anywhere).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")
_SPACE = re.compile(r"\s+")


def render(digest: Digest, fmt: str, *, templates_dir: Path | None = None) -> str:
    """Render `digest` in `fmt` (one of FORMATS).

    Raises ValueError for an unknown format and ConfigError for an unusable template directory
    or a broken override template.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown digest format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "json":
        return render_json(digest)
    env = _environment(str(templates_dir) if templates_dir is not None else None)
    name = TEMPLATES[fmt]
    try:
        template = env.get_template(name)
        return template.render(_context(digest))
    except jinja2.TemplateError as exc:
        where = f" in {templates_dir}" if templates_dir is not None else ""
        raise ConfigError(f"template {name}{where}: {_one_line(str(exc))}") from exc


def render_json(digest: Digest) -> str:
    data = {
        "generated_at": iso(digest.generated_at),
        "since": iso(digest.since) if digest.since is not None else None,
        "count": len(digest.matches),
        "matches": [
            {
                "id": m.article_id,
                "url": m.url,
                "title": m.title,
                "feed": m.feed,
                "published": iso(m.published) if m.published is not None else None,
                "first_seen": iso(m.first_seen),
                "score": m.score,
                "explanation": m.explanation,
                "sentence": m.sentence,
                "nearest_seed": m.nearest_seed,
                "facets": list(m.facets),
                "terms": list(m.terms),
                "changed": m.changed,
                "story": m.story,
                "story_status": story_status(m),
                "also_in": [{"url": a.url, "feed": a.feed} for a in m.also_in],
                "revision": m.revision,
                "changes": _changes_json(m),
            }
            for m in digest.matches
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def story_status(m: MatchItem) -> str:
    """new | more | updated: an update of a reported article wins, then the story's status."""
    if m.changed:
        return "updated"
    return "more" if m.story_status == "more" else "new"


def sections(items: Sequence[MatchItem]) -> dict[str, list[MatchItem]]:
    """The digest's three sections, each in the order given (best first). In "New stories" and
    "More coverage" a story is one entry: its best article, with the story's other articles in
    this digest folded in (`coverage`, `story_articles`). An update is always its own entry."""
    out: dict[str, list[MatchItem]] = {"new": [], "more": [], "updated": []}
    lead: dict[tuple[str, str], int] = {}
    for m in items:
        status = story_status(m)
        key = (status, m.story or f"article-{m.article_id}")
        if status == "updated" or key not in lead:
            lead[key] = len(out[status])
            out[status].append(m)
            continue
        first = out[status][lead[key]]
        out[status][lead[key]] = replace(
            first,
            story_articles=first.story_articles + 1,
            coverage=(*first.coverage, AlsoIn(url=m.url, feed=m.feed)),
        )
    return out


def section_counts(items: Sequence[MatchItem]) -> dict[str, int]:
    """New stories (entries), more articles (articles, not entries), updates."""
    parts = sections(items)
    return {
        "new": len(parts["new"]),
        "more": sum(m.story_articles for m in parts["more"]),
        "updated": len(parts["updated"]),
    }


@dataclass(frozen=True)
class Count:
    n: int
    one: str  # "new story"
    many: str  # "new stories"

    def __str__(self) -> str:
        return f"{self.n} {self.one if self.n == 1 else self.many}"


def counts(digest: Digest) -> tuple[Count, ...]:
    """What the digest holds, by section, in the order a message names it ("3 new stories,
    5 more articles, 1 update")."""
    n = section_counts(digest.matches)
    return (
        Count(n["new"], "new story", "new stories"),
        Count(n["more"], "more article", "more articles"),
        Count(n["updated"], "update", "updates"),
    )


def summary(parts: tuple[Count, ...]) -> str:
    named = [str(c) for c in parts if c.n]
    return ", ".join(named) if named else "nothing new"


def headline(digest: Digest) -> str:
    """One line for an email subject or a notification title: name, date and the counts."""
    title = _one_line(_clean(digest.title)) or "monitor digest"
    return f"{title} {digest.generated_at.date().isoformat()}: {summary(counts(digest))}"


def _changes_json(m: MatchItem) -> dict[str, Any] | None:
    if m.diff is None:
        return None
    return {
        "material": m.diff.material,
        "significance": m.diff.significance,
        "summary": m.diff.summary,
        "changes": [{"op": op, "before": b, "after": a} for op, b, a in m.diff.changes],
    }


# --- helpers (public: the deliver module and templates use them) -----------------------------


def safe_link(url: str | None) -> str | None:
    """The URL if it may be rendered as a link (absolute http/https), else None."""
    if not url:
        return None
    url = _clean(url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def iso(value: datetime) -> str:
    """RFC 3339 / ISO-8601 with an offset; naive datetimes are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


def human(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    offset = value.utcoffset()
    zone = "UTC" if not offset else value.strftime("%z")
    return f"{value:%Y-%m-%d %H:%M} {zone}"


def md_escape(text: object) -> str:
    """Escape Markdown syntax (link brackets, emphasis, raw HTML) in running text."""
    return _MD_SPECIAL.sub(r"\\\1", _SPACE.sub(" ", str(text)).strip())


def md_code(text: object) -> str:
    """A line inside a fenced code block: a run of backticks must not close the fence."""
    return re.sub(r"`{3,}", lambda m: "` " * len(m.group(0)), _SPACE.sub(" ", str(text)).strip())


def md_url(url: str) -> str:
    """Encode characters that would end or break a Markdown link destination."""
    out = []
    for ch in url:
        if ch in "()<> \\" or ord(ch) < 0x21 or ord(ch) == 0x7F:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def atom_id(item: MatchItem) -> str:
    """Stable entry id: the same article gets the same id in every digest."""
    key = item.url.strip() if item.url and item.url.strip() else f"monitor:article:{item.article_id}"
    return uuid.uuid5(uuid.NAMESPACE_URL, key).urn


# --- internals -------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".atom.j2", ".html", ".xml"))


@lru_cache(maxsize=16)
def _environment(templates_dir: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        if not Path(templates_dir).is_dir():
            raise ConfigError(f"templates directory {templates_dir} does not exist")
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=_autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = md_escape
    env.filters["md_url"] = md_url
    env.filters["md_code"] = md_code
    return env


def _item(m: MatchItem, generated_at: datetime, base_url: str | None = None) -> dict[str, Any]:
    explanation = _one_line(_clean(m.explanation))
    title = _one_line(_clean(m.title)) or _one_line(_clean(m.url)) or "(untitled)"
    facets = [_one_line(_clean(f)) for f in m.facets if f.strip()]
    terms = [_one_line(_clean(t)) for t in m.terms if t.strip()]
    nearest = _one_line(_clean(m.nearest_seed))
    return {
        "id": m.article_id,
        "title": title,
        "url": _one_line(_clean(m.url)),
        "link": safe_link(m.url),
        "feed": _one_line(_clean(m.feed)),
        "published": human(m.published) if m.published is not None else None,
        "published_iso": iso(m.published) if m.published is not None else None,
        "first_seen": human(m.first_seen),
        "first_seen_iso": iso(m.first_seen),
        # an updated article is news as of this digest; a new one as of when it was first seen
        "updated_iso": iso(generated_at if m.changed else m.first_seen),
        "score": f"{m.score:.2f}",
        "explanation": explanation,
        "nearest_seed": nearest,
        "facets": facets,
        "terms": terms,
        "sentence": _one_line(_clean(m.sentence)),
        "changed": m.changed,
        "atom_id": atom_id(m),
        "page": f"{base_url.rstrip('/')}/article/{m.article_id}" if base_url else None,
        "story": m.story,
        "story_status": story_status(m),
        "story_first_reported": human(m.story_first_reported) if m.story_first_reported else None,
        "story_articles": m.story_articles,
        "coverage": [
            {"url": _one_line(_clean(a.url)), "link": safe_link(a.url), "feed": _one_line(_clean(a.feed))}
            for a in m.coverage
        ],
        "also_in": [
            {"url": _one_line(_clean(a.url)), "link": safe_link(a.url), "feed": _one_line(_clean(a.feed))}
            for a in m.also_in
        ],
        "revision": m.revision,
        "diff": _diff_view(m),
    }


def _diff_view(m: MatchItem) -> dict[str, Any] | None:
    """The change shown under an updated entry: summary, and removed/added text per change."""
    if m.diff is None:
        return None
    lines = [{"op": op, "before": _one_line(_clean(b)), "after": _one_line(_clean(a))} for op, b, a in m.diff.changes]
    return {"summary": _one_line(_clean(m.diff.summary)), "material": m.diff.material, "lines": lines}


def _context(digest: Digest) -> dict[str, Any]:
    title = _one_line(_clean(digest.title)) or "monitor digest"
    parts = sections(digest.matches)
    return {
        "sections": [
            {
                "key": key,
                "heading": SECTION_HEADINGS[key],
                "items": [_item(m, digest.generated_at, digest.base_url) for m in found],
            }
            for key, found in parts.items()
            if found
        ],
        "counts": section_counts(digest.matches),
        "title": title,
        "count": len(digest.matches),
        "day": digest.generated_at.date().isoformat(),
        "generated_at": human(digest.generated_at),
        "generated_at_iso": iso(digest.generated_at),
        "since": human(digest.since) if digest.since is not None else None,
        "since_iso": iso(digest.since) if digest.since is not None else None,
        "feed_id": uuid.uuid5(uuid.NAMESPACE_URL, f"monitor:digest:{title}").urn,
        "items": [_item(m, digest.generated_at, digest.base_url) for m in digest.matches],
    }
