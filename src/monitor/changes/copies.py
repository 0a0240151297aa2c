"""Copies: one article identity across feeds (pure).

* `canonical_url`: the page's rel=canonical/og:url when given, else the URL itself, normalised
  by courlan (tracking parameters and fragments dropped, host lower-cased) and stripped of AMP
  variants; `url_key` is the identity key (no scheme, no "www."/"m."/"amp." host prefix).
* `signature`/`band_keys`: MinHash of word 5-shingles by one-permutation hashing (one hash per
  shingle, one bin per signature slot, empty bins filled by rotation), cut into LSH bands. A
  store keeps the band keys in an indexed table limited to a time window: candidates are the
  articles sharing a band key, i.e. O(1) look-ups per article.
* `confirm`: a candidate is a copy only if the exact shingle sets overlap enough (Jaccard, or
  containment for a copy wrapped in extra boilerplate or cut short by a feed).
* `same_article`: the identity-repair rule for a feed that changes an entry's guid or URL.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from operator import methodcaller
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

from .text import WORD_RE, fold

SHINGLE = 5  # words per shingle
NUM_PERM = 64  # signature slots
BANDS = 16  # LSH bands of NUM_PERM // BANDS rows: candidate pairs from Jaccard ~0.5 up
MIN_JACCARD = 0.5  # confirmed copy: half of the union of shingles shared ...
MIN_CONTAINMENT = 0.8  # ... or 80 % of the shorter text's shingles found in the other,
MIN_SHARED = 8  # and at least this many shingles shared: two one-line teasers prove little
REPAIR_WINDOW = timedelta(days=1)
_MASK = (1 << 64) - 1
_AMP_QUERY = {"amp", "amp_js_v", "usqp", "outputtype", "_gsa"}
_AMP_PATH = re.compile(r"(?:/amp)(?=/|$)|(?<=[./-])amp(?=\.html?$)|\.amp(?=\.html?$|$)", re.IGNORECASE)
_TRACKING = re.compile(
    r"^(?:utm_|fbclid|gclid|dclid|msclkid|mc_|igshid|yclid|ref$|ref_src|rss$|cmpid|ito$|at_|feature$|si$)"
)


def canonical_url(url: str, declared: str | None = None) -> str:
    """The article's canonical URL: a declared rel=canonical/og:url wins when it is absolute."""
    chosen = declared if declared and declared.lower().startswith(("http://", "https://")) else url
    try:
        # not strict: courlan's strict mode keeps only a whitelist of query parameters (it drops
        # YouTube's ?v=), tracking parameters are removed below
        normal = normalize_url(chosen.strip(), strict=False)
    except (ValueError, AttributeError):
        normal = chosen.strip()
    parts = urlsplit(normal)
    host = parts.netloc.lower()
    if host.startswith("amp."):
        host = host[4:]
    path = _AMP_PATH.sub("", parts.path) or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
         if k.lower() not in _AMP_QUERY and not _TRACKING.match(k.lower())]
    )
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def url_key(url: str, declared: str | None = None) -> str:
    """Identity key: canonical URL without scheme, mobile/www host prefix and trailing slash."""
    parts = urlsplit(canonical_url(url, declared))
    host = re.sub(r"^(?:www\d?|m|mobile)\.", "", parts.netloc)
    path = parts.path.rstrip("/") or "/"
    return host + path + (f"?{parts.query}" if parts.query else "")


class _FoldedBytes(dict[str, bytes]):
    """word -> its folded form, UTF-8 encoded; filled as words are met (bounded: ~130 bytes an
    entry, 50,000 entries ~6 MB; past the bound a word is folded again each time, by the same fold)."""

    def __missing__(self, word: str) -> bytes:
        folded = fold(word).encode()
        if len(self) < 50_000:
            self[word] = folded
        return folded


_FOLDED = _FoldedBytes()
_HASH8 = partial(hashlib.blake2b, digest_size=8)
_DIGEST = methodcaller("digest")


def shingles(text: str, size: int = SHINGLE) -> frozenset[int]:
    """64-bit hashes of overlapping word `size`-grams (folded words; short texts: one shingle):
    BLAKE2b (8-byte digest) of the UTF-8 gram, words joined by one space, read big-endian.
    Stored and compared across processes and runs, so these numbers must never change; they are
    computed by C-level maps (a word's folded bytes cached, the grams joined as bytes, the digests
    read by one struct.unpack): a text has about as many shingles as words."""
    if size < 1:
        raise ValueError(f"shingle size must be at least 1, not {size}")
    words = list(map(_FOLDED.__getitem__, WORD_RE.findall(text)))
    if not words:
        return frozenset()
    if len(words) < size:
        grams: Iterable[bytes] = (b" ".join(words),)
    else:
        # the i-th gram zips word i of each shifted copy: the shortest copy ends the grams
        grams = map(b" ".join, zip(*[words[i:] for i in range(size)], strict=False))
    digests = b"".join(map(_DIGEST, map(_HASH8, grams)))
    return frozenset(struct.unpack(f">{len(digests) // 8}Q", digests))


def signature(hashes: frozenset[int], num_perm: int = NUM_PERM) -> tuple[int, ...]:
    """One-permutation MinHash: the minimum per bin, empty bins filled from the next full bin."""
    if not hashes:
        return ()
    bins: list[int | None] = [None] * num_perm
    for h in hashes:
        mixed = (h * 0x9E3779B97F4A7C15) & _MASK  # spread the bits before binning
        b, v = mixed % num_perm, mixed // num_perm
        cur = bins[b]
        if cur is None or v < cur:
            bins[b] = v
    out: list[int] = []
    for i in range(num_perm):
        j = 0
        while bins[(i + j) % num_perm] is None:
            j += 1
        out.append(((bins[(i + j) % num_perm] or 0) + j * 0x632BE59BD9B4E019) & _MASK)
    return tuple(out)


def band_keys(sig: Sequence[int], bands: int = BANDS) -> tuple[str, ...]:
    """LSH band keys ("band:hex"): two texts sharing any key are copy candidates."""
    if not sig:
        return ()
    rows = len(sig) // bands
    keys = []
    for b in range(bands):
        chunk = ",".join(str(v) for v in sig[b * rows : (b + 1) * rows])
        keys.append(f"{b}:{hashlib.blake2b(chunk.encode(), digest_size=8).hexdigest()}")
    return tuple(keys)


def estimate_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


@dataclass(frozen=True)
class Overlap:
    jaccard: float
    containment: float  # share of the smaller set found in the other
    shared: int = 0

    @property
    def is_copy(self) -> bool:
        return self.shared >= MIN_SHARED and (self.jaccard >= MIN_JACCARD or self.containment >= MIN_CONTAINMENT)


def confirm(a: frozenset[int], b: frozenset[int]) -> Overlap:
    """Exact shingle overlap of two texts."""
    if not a or not b:
        return Overlap(0.0, 0.0)
    both = len(a & b)
    return Overlap(both / len(a | b), both / min(len(a), len(b)), both)


def same_article(
    title_a: str, text_a: str, when_a: datetime | None, title_b: str, text_b: str, when_b: datetime | None
) -> bool:
    """Identity repair: a feed changed the guid/URL, but title and text are the same within a day."""
    if [fold(w) for w in WORD_RE.findall(title_a)] != [fold(w) for w in WORD_RE.findall(title_b)]:
        return False
    if when_a is not None and when_b is not None and abs(when_a - when_b) > REPAIR_WINDOW:
        return False
    return confirm(shingles(text_a), shingles(text_b)).jaccard >= 0.9


@dataclass(frozen=True)
class CopyRecord:
    id: str
    key: str
    shingles: frozenset[int]
    bands: tuple[str, ...]
    when: float | None


class CopyDetector:
    """In-memory copy finder over a time window (what a store does with its band-key table)."""

    def __init__(self, window_days: float = 3.0, per_band: int = 32) -> None:
        self._by_key: dict[str, str] = {}
        self._bands: dict[str, deque[CopyRecord]] = {}
        self._window = window_days * 86400.0
        self._per_band = per_band

    def check(self, id: str, text: str, url: str | None = None, when: datetime | None = None) -> str | None:
        """The id of an earlier copy of this article (same URL or confirmed near-duplicate text)."""
        key = url_key(url) if url else ""
        if key and key in self._by_key:
            return self._by_key[key]
        sh = shingles(text)
        rec = CopyRecord(id, key, sh, band_keys(signature(sh)), when.timestamp() if when else None)
        found = self._candidate(rec)
        self._remember(rec if found is None else CopyRecord(found, key, sh, rec.bands, rec.when))
        return found

    def _candidate(self, rec: CopyRecord) -> str | None:
        seen: set[str] = set()
        for band in rec.bands:
            for other in self._bands.get(band, ()):
                if other.id in seen or other.id == rec.id:
                    continue
                seen.add(other.id)
                if rec.when is not None and other.when is not None and abs(rec.when - other.when) > self._window:
                    continue
                if confirm(rec.shingles, other.shingles).is_copy:
                    return other.id
        return None

    def _remember(self, rec: CopyRecord) -> None:
        if rec.key:
            self._by_key.setdefault(rec.key, rec.id)
        for band in rec.bands:
            q = self._bands.get(band)
            if q is None:
                q = self._bands[band] = deque(maxlen=self._per_band)
            q.append(rec)
