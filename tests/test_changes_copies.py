"""Copies: canonical URLs, MinHash/LSH keys, exact-overlap confirmation, identity repair."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from monitor.changes.copies import (
    CopyDetector,
    band_keys,
    canonical_url,
    confirm,
    estimate_jaccard,
    same_article,
    shingles,
    signature,
    url_key,
)
from monitor.changes.text import WORD_RE, fold

TEXT = (
    "Rescue teams reached the village of Tanah Merah on Tuesday after a magnitude 6.1 earthquake "
    "destroyed dozens of homes. Officials said at least 14 people were killed and 230 injured, and "
    "that the search would continue through the night. The quake struck at a depth of 10 kilometres "
    "shortly before dawn, according to the national geophysics agency."
)
OTHER = (
    "The central bank left interest rates unchanged on Thursday, citing slowing inflation and a "
    "weaker labour market, and signalled that cuts could follow early next year if prices keep easing."
)


def test_tracking_parameters_and_fragment_dropped() -> None:
    url = "https://WWW.Example.com/world/quake.html?utm_source=rss&utm_medium=feed&id=7&fbclid=x#top"
    assert canonical_url(url) == "https://www.example.com/world/quake.html?id=7"


def test_query_parameters_that_name_the_page_are_kept() -> None:
    a = url_key("https://www.youtube.com/watch?v=aH1u1GIPU2A&feature=share")
    b = url_key("https://www.youtube.com/watch?v=UzXQYfD4TtI")
    assert a == "youtube.com/watch?v=aH1u1GIPU2A" and a != b
    assert url_key("https://news.example.com/?p=123&utm_source=x") == "news.example.com/?p=123"


def test_amp_variants_share_the_key() -> None:
    keys = {
        url_key("https://www.example.com/world/quake"),
        url_key("https://amp.example.com/world/quake?amp=1"),
        url_key("https://www.example.com/amp/world/quake"),
        url_key("https://m.example.com/world/quake/?utm_campaign=x"),
        url_key("http://example.com/world/quake/amp"),
    }
    assert keys == {"example.com/world/quake"}


def test_declared_canonical_wins() -> None:
    assert url_key("https://feeds.example.net/r/123", "https://news.example.com/a/quake") == "news.example.com/a/quake"
    # a relative or empty declaration is ignored
    assert url_key("https://news.example.com/a/quake", "/a/other") == "news.example.com/a/quake"


def test_copy_with_boilerplate_is_confirmed_and_shares_a_band() -> None:
    a, b = shingles(TEXT), shingles("Share this story. " + TEXT + " Read more: subscribe to our newsletter.")
    overlap = confirm(a, b)
    assert overlap.is_copy and overlap.containment == 1.0
    assert set(band_keys(signature(a))) & set(band_keys(signature(b)))
    assert estimate_jaccard(signature(a), signature(b)) > 0.6


def test_different_text_is_not_a_copy() -> None:
    a, b = shingles(TEXT), shingles(OTHER)
    assert not confirm(a, b).is_copy
    # two short teasers that share a phrase are not proven copies
    teaser_a = shingles("Live: day 300 of the war in Ukraine")
    teaser_b = shingles("Live: day 301 of the war in Ukraine")
    assert confirm(teaser_a, teaser_b).containment > 0 and not confirm(teaser_a, teaser_b).is_copy
    assert not set(band_keys(signature(a))) & set(band_keys(signature(b)))


def _reference_shingles(text: str, size: int = 5) -> frozenset[int]:
    """The definition the stored shingles were computed by (they are compared across runs)."""
    words = [fold(w) for w in WORD_RE.findall(text)]
    if not words:
        return frozenset()
    grams = [" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))]
    return frozenset(int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") for g in grams)


@pytest.mark.parametrize(
    "text",
    [
        TEXT,
        OTHER + " " + TEXT,
        "",
        "!!! ...",
        "Obama's U.S. plan",  # fewer words than a shingle: one shingle
        "Ünïcödé Straße naïve CAFÉ don’t Москва й ё — “quoted” 1,200 6.1 06:00 43-year-old " * 3,
    ],
)
def test_shingles_are_the_stored_values(text: str) -> None:
    for size in (1, 2, 5):
        assert shingles(text, size) == _reference_shingles(text, size)
    assert len(shingles(TEXT)) == len(WORD_RE.findall(TEXT)) - 4


def test_shingle_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shingles(TEXT, 0)


def test_signature_is_stable_and_sized() -> None:
    sig = signature(shingles(TEXT))
    assert sig == signature(shingles(TEXT)) and len(sig) == 64
    assert len(band_keys(sig)) == 16
    assert signature(frozenset()) == () and band_keys(()) == ()


def test_identity_repair_same_title_and_text_within_a_day() -> None:
    t0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert same_article("Quake kills 14", TEXT, t0, "Quake kills 14", TEXT + " ", t0 + timedelta(hours=5))
    assert not same_article("Quake kills 14", TEXT, t0, "Quake kills 14", TEXT, t0 + timedelta(days=2))
    assert not same_article("Quake kills 14", TEXT, t0, "Quake kills 20", TEXT, t0)


def test_detector_finds_copies_across_urls_and_feeds() -> None:
    det = CopyDetector()
    t0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert det.check("a", TEXT, "https://www.example.com/world/quake?utm_source=rss", t0) is None
    # the same URL through AMP and tracking parameters
    assert det.check("b", "teaser only", "https://amp.example.com/amp/world/quake?amp=1", t0) == "a"
    # the wire text at another outlet
    assert det.check("c", "AP — " + TEXT, "https://other.example.org/2026/quake-14-dead", t0) == "a"
    assert det.check("d", OTHER, "https://other.example.org/rates", t0) is None
    # outside the time window the same text is not a copy candidate
    assert det.check("e", TEXT, "https://third.example.net/q", t0 + timedelta(days=10)) is None
