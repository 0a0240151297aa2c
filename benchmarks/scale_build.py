"""Builds the database of benchmarks/bench_scale.py: N articles with real text shapes and
synthetic content, M matches with explanations, stories, versions and digests, as the store keeps
them, written by bulk inserts (executemany, one transaction) into the store's own schema.

Text: each article is a random run of paragraphs from the 181 ground-truth article bodies of
`corpus/pages/scrapinghub-aeb` and the 496 ECB+ news texts, cut to a length drawn from those
bodies' lengths (median 3.2 kB, mean 4.5 kB); titles and summaries are the 8,206 real news items
of `corpus/news` (with a number, so titles repeat only across feeds as they do in life). Times
spread evenly over `days` before NOW; one article in 20 is a copy of one three articles earlier
in another feed; stories of three articles; matches are every (N / M)-th article, a tenth of them
with a second, material version; every match older than a day is in a delivered digest (one per
day); the last day's are new. Band keys only for the last 3 days (the store deletes older ones).
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.changes.copies import band_keys, shingles, signature, url_key
from monitor.models import FeedSpec
from monitor.store import SqliteStore
from monitor.store.copies import title_key

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
BATCH = 5_000
FACETS = json.dumps(["North Korea/Russia: North Korea, Russia", "Burkina Faso/Mali/Myanmar/Niger: Burkina Faso"])
TERMS = json.dumps(["military", "security", "weapons", "junta", "ties", "alliance", "forces", "import"])
DIFF = json.dumps([["add", "", "On Friday the ministry confirmed a first shipment had arrived."]])


def feed_url(i: int) -> str:
    return f"http://127.0.0.1:9/feeds/{i}.xml"  # never fetched: port 9 (discard), loopback only


@dataclass(frozen=True)
class Shapes:
    paragraphs: list[str]
    lengths: list[int]
    items: list[tuple[str, str]]  # (title, summary)


def load_shapes() -> Shapes:
    truth = json.loads((CORPUS / "pages" / "scrapinghub-aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [str(v.get("articleBody") or "") for v in truth.values() if v.get("articleBody")]
    ecb = [json.loads(line) for line in (CORPUS / "stories" / "ecbplus_dev.jsonl").open(encoding="utf-8")]
    paragraphs = [p.strip() for body in bodies + [str(r.get("text") or "") for r in ecb] for p in body.split("\n")]
    news = [json.loads(line) for line in (CORPUS / "news" / "items.jsonl").open(encoding="utf-8")]
    items = [(str(r.get("title") or ""), str(r.get("summary") or "")) for r in news if r.get("title")]
    return Shapes([p for p in paragraphs if len(p) > 40], [len(b) for b in bodies], items)


def make_text(rng: random.Random, shapes: Shapes) -> str:
    want, out, size = rng.choice(shapes.lengths), [], 0
    start = rng.randrange(len(shapes.paragraphs))
    while size < want:  # a run of consecutive paragraphs reads like one article's flow
        p = shapes.paragraphs[(start + len(out)) % len(shapes.paragraphs)]
        out.append(p)
        size += len(p) + 1
    return "\n".join(out)


@dataclass(frozen=True)
class Plan:
    articles: int
    matches: int
    feeds: int
    days: int

    def when(self, i: int) -> datetime:
        return NOW - timedelta(seconds=(self.articles - i) * self.days * 86400 / self.articles)

    def is_match(self, i: int) -> bool:
        """One article in (articles / matches), never a copy (a copy is reported under its original)."""
        step = max(1, self.articles // self.matches)
        pick = i - 1 if self.copy_of(i - 1) is not None else i
        return i < step * self.matches and pick % step == step - 1 and self.copy_of(i) is None

    def copy_of(self, i: int) -> int | None:
        return i - 3 if i % 20 == 19 else None  # an earlier article (index), in another feed


def build(path: Path, plan: Plan, seed: int = 1) -> None:
    """Create `path` (must not exist) and fill it; prints progress every 100k articles."""
    started = time.perf_counter()
    shapes = load_shapes()
    keys = {t: title_key(t) for t, _ in shapes.items}
    store = SqliteStore(path)
    store.sync_feeds([FeedSpec(url=feed_url(i), name=f"Outlet {i}") for i in range(plan.feeds)])
    store.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")  # a build, not the product's writes: rebuilt if it fails
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    conn.execute("BEGIN")
    rng = random.Random(seed)
    for done in _fill_articles(conn, plan, shapes, keys, rng):
        print(f"  {done:,} articles, {time.perf_counter() - started:.0f} s", flush=True)
    _fill_matches(conn, plan)
    _fill_digests(conn, plan)
    _fill_bands(conn, plan)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")  # as the store keeps it
    conn.close()
    print(f"built {path} in {time.perf_counter() - started:.0f} s ({path.stat().st_size / 1e9:.1f} GB)", flush=True)


ARTICLE_SQL = """INSERT INTO articles (id, feed_id, entry_id, entry_hash, url, canonical_url, title,
    published, first_seen, updated_at, summary, text, content_hash, extraction, language, url_key,
    title_key, copy_of, story_id) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, 'page', 'en', ?, ?, ?, ?)"""
VERSION_SQL = """INSERT INTO article_versions (article_id, number, seen_at, title, text, extraction,
    content_hash, material, significance, summary, reason, diff)
    VALUES (?, ?, ?, ?, ?, 'page', ?, ?, ?, ?, ?, ?)"""


def _fill_articles(
    conn: sqlite3.Connection, plan: Plan, shapes: Shapes, keys: dict[str, str], rng: random.Random
) -> Iterator[int]:
    arts: list[tuple[object, ...]] = []
    vers: list[tuple[object, ...]] = []
    stories: list[tuple[object, ...]] = []
    terms: list[tuple[object, ...]] = []
    for i in range(plan.articles):
        aid, feed = i + 1, i % plan.feeds + 1
        title, summary = shapes.items[i % len(shapes.items)]
        title = f"{title} ({i // len(shapes.items)})" if i >= len(shapes.items) else title
        when = plan.when(i).isoformat(timespec="seconds")
        text = make_text(rng, shapes)
        url = f"http://127.0.0.1:9/{feed}/2026/{i}/{'-'.join(title.lower().split()[:6])}.html"
        chash = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        original = plan.copy_of(i)
        story = (original if original is not None else i) // 3 + 1
        arts.append(
            (aid, feed, f"urn:e:{i}", f"h{i}", url, title, when, when, when, summary, text, chash,
             url_key(url, None), keys.get(title) or title_key(title), None if original is None else original + 1,
             story)
        )  # fmt: skip
        vers.append((aid, 1, when, title, text, chash, 0, 0.0, "first version", "first version", None))
        if i % 3 == 0:
            stories.append((i // 3 + 1, when, plan.when(min(i + 2, plan.articles - 1)).isoformat(timespec="seconds")))
            terms.append((i // 3 + 1, " ".join(w for w in title_key(title).split() if w.isalnum())[:400]))
        if len(arts) >= BATCH or i == plan.articles - 1:
            conn.executemany(ARTICLE_SQL, arts)
            conn.executemany(VERSION_SQL, vers)
            conn.executemany("INSERT INTO stories (id, created_at, last_at, articles) VALUES (?, ?, ?, 3)", stories)
            conn.executemany("INSERT INTO story_terms (rowid, terms) VALUES (?, ?)", terms)
            arts, vers, stories, terms = [], [], [], []
            if (i + 1) % 100_000 == 0:
                yield i + 1
    conn.execute("UPDATE feeds SET entries = (SELECT count(*) FROM articles a WHERE a.feed_id = feeds.id)")


def _fill_matches(conn: sqlite3.Connection, plan: Plan) -> None:
    rows, updated = [], []
    for i in range(plan.articles):
        if not plan.is_match(i) or plan.copy_of(i) is not None:
            continue
        when = plan.when(i).isoformat(timespec="seconds")
        revision = 2 if len(rows) % 10 == 9 else 1
        rows.append((i + 1, 0.4 + (i % 60) / 100, "000_seed.txt", FACETS, TERMS, "The junta signed the accord.",
                     when, when, revision))  # fmt: skip
        if revision == 2:
            updated.append(i + 1)
    conn.executemany(
        """INSERT INTO matches (article_id, score, nearest_seed, facets, terms, sentence, matched_at,
           updated_at, revision, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')""",
        rows,
    )
    conn.executemany(
        """INSERT INTO article_versions (article_id, number, seen_at, title, text, extraction, content_hash,
           material, significance, summary, reason, diff)
           SELECT id, 2, updated_at, title, text || '\nOn Friday the ministry confirmed a first shipment had
           arrived.', 'page', content_hash || 'b', 1, 0.4, '1 sentence added', 'material', ? FROM articles
           WHERE id = ?""",
        [(DIFF, aid) for aid in updated],
    )
    # a few hundred judged articles: matches and near misses (the scorer learns from all of them)
    judged = [(aid, int(k % 2 == 0), NOW.isoformat()) for k, (aid, *_rest) in enumerate(rows[::40])]
    judged += [(i * 997 % plan.articles + 1, 0, NOW.isoformat()) for i in range(len(judged))]
    conn.executemany("INSERT OR REPLACE INTO judgments (article_id, relevant, judged_at) VALUES (?, ?, ?)", judged)


def _fill_digests(conn: sqlite3.Connection, plan: Plan) -> None:
    """One delivered digest per day for target `cli`, holding the matches of the day before."""
    cutoff = (NOW - timedelta(days=1)).isoformat(timespec="seconds")
    found = conn.execute(
        "SELECT id, revision, substr(matched_at, 1, 10) FROM matches WHERE matched_at < ? ORDER BY id", (cutoff,)
    ).fetchall()
    by_day: dict[str, list[tuple[int, int]]] = {}
    for mid, revision, day in found:
        by_day.setdefault(day, []).append((mid, revision))
    for day, members in sorted(by_day.items()):
        at = f"{day}T07:00:00+00:00"
        cur = conn.execute(
            """INSERT INTO digests (target, created_at, status, delivered_at, count, attempts)
               VALUES ('cli', ?, 'delivered', ?, ?, 1)""",
            (at, at, len(members)),
        )
        conn.executemany(
            "INSERT INTO digest_items (digest_id, target, match_id, revision) VALUES (?, 'cli', ?, ?)",
            [(cur.lastrowid, mid, rev) for mid, rev in members],
        )


def _fill_bands(conn: sqlite3.Connection, plan: Plan) -> None:
    since = (NOW - timedelta(days=3)).isoformat(timespec="seconds")
    for aid, text, seen in conn.execute("SELECT id, text, first_seen FROM articles WHERE first_seen >= ?", (since,)):
        conn.executemany(
            "INSERT INTO copy_bands (band, article_id, seen_at) VALUES (?, ?, ?)",
            [(b, aid, seen) for b in band_keys(signature(shingles(text)))],
        )
