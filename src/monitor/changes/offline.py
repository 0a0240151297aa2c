"""Offline contracts: cluster a JSON-lines stream, diff two texts (pure except file reading)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any

from ..errors import MonitorError
from .copies import CopyDetector
from .stories import Article, StoryClusterer
from .versions import VersionDiff, compare


def parse_article(row: dict[str, Any]) -> Article:
    published = None
    raw = row.get("published")
    if raw:
        try:
            published = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            raise MonitorError(f"article {row.get('id')!r}: bad published {raw!r}") from None
        if published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
    return Article(
        id=str(row["id"]),
        title=str(row.get("title") or ""),
        text=str(row.get("text") or ""),
        url=str(row["url"]) if row.get("url") else None,
        feed=str(row["feed"]) if row.get("feed") else None,
        published=published,
    )


def cluster_rows(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """`monitor cluster`: one output line per input line, same order (copies join their original's story)."""
    stories = StoryClusterer()
    copies = CopyDetector()
    story_of: dict[str, str] = {}
    for row in rows:
        if "id" not in row:
            raise MonitorError(f"line without an id: {json.dumps(row)[:80]}")
        art = parse_article(row)
        dup = copies.check(art.id, f"{art.title}\n{art.text}", art.url, art.published)
        assigned = stories.assign(art, story_hint=story_of.get(dup) if dup else None)
        story_of[art.id] = assigned.story
        yield {"id": art.id, "story": assigned.story, "new_story": assigned.new_story, "duplicate_of": dup}


def read_lines(lines: Iterable[str], source: str) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MonitorError(f"{source}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "id" not in row:
            raise MonitorError(f"{source}:{n}: expected a JSON object with an id")
        yield row


def diff_json(diff: VersionDiff) -> dict[str, Any]:
    return {
        "material": diff.material,
        "significance": diff.significance,
        "summary": diff.summary,
        "changes": [{"op": c.op, "before": c.before, "after": c.after} for c in diff.changes],
    }


def diff_markdown(diff: VersionDiff) -> str:
    lines = [f"**{'Material' if diff.material else 'Minor'} change** ({diff.significance:.2f}): {diff.summary}", ""]
    for c in diff.changes:
        if c.before:
            lines.append(f"- {c.before}")
        if c.after:
            lines.append(f"+ {c.after}")
    return "\n".join(lines) + "\n"


def diff_html(diff: VersionDiff) -> str:
    kind = "material" if diff.material else "minor"
    out = [f'<div class="diff {kind}"><p class="summary">{escape(diff.summary)}</p>']
    for c in diff.changes:
        if c.op == "added":
            out.append(f"<p><ins>{escape(c.after)}</ins></p>")
        elif c.op == "removed":
            out.append(f"<p><del>{escape(c.before)}</del></p>")
        else:
            tag = {"insert": "ins", "delete": "del"}
            out.append(
                "<p>"
                + "".join(f"<{tag[op]}>{escape(t)}</{tag[op]}>" if op in tag else escape(t) for op, t in c.words)
                + "</p>"
            )
    out.append("</div>")
    return "\n".join(out) + "\n"


def render_diff(old: str, new: str, fmt: str = "json") -> str:
    """`monitor diff`: the diff of two texts in json, md or html."""
    d = compare(old, new)
    if fmt == "md":
        return diff_markdown(d)
    if fmt == "html":
        return diff_html(d)
    return json.dumps(diff_json(d), ensure_ascii=False, indent=2) + "\n"
