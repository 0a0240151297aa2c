"""The story engine's state as plain records, and their JSON form (pure).

`StoryClusterer.state()` returns a `ClustererState`; `StoryClusterer.restore(state)` continues
from it, placing the next articles exactly as the clusterer that produced it would have (same
vectors, same document frequencies, same story ids). A store can keep one `StoryState` per story
(written after each placement, `StoryClusterer.story_state(id)`) and the `FrequencyState`,
instead of replaying the recent articles when a process starts. The candidate index is not part
of the state: it belongs to whoever injected it (the store's `story_terms` table persists itself).

JSON keeps floats exactly (Python writes the shortest repr that reads back to the same float),
so a restored clusterer computes the same similarities to the last bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any

STATE_VERSION = 1  # bumped when the meaning of a field changes; older states are refused


class StateError(ValueError):
    """A stored engine state that cannot be read back (one line, says what is wrong)."""


@dataclass(frozen=True)
class StoryState:
    """One story: the sum of its members' unit vectors, its latest members (compared one by one),
    how many articles it has, when it last grew (epoch seconds), the years of its articles and the
    numbers they state (oldest first)."""

    id: str
    centroid: Mapping[str, float]
    members: tuple[Mapping[str, float], ...]
    size: int
    last: float | None = None
    years: frozenset[int] = frozenset()
    numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrequencyState:
    """Document frequencies over the stream: articles seen, per-term counts, and each term's
    background prior (pseudo-documents; kept so a restored engine weighs terms identically)."""

    n: int
    df: Mapping[str, int]
    prior: Mapping[str, float]


@dataclass(frozen=True)
class ClustererState:
    stories: tuple[StoryState, ...]  # least recently grown first (the eviction order)
    df: FrequencyState
    next_id: int  # the number of the next new story ("s<next_id>")
    version: int = field(default=STATE_VERSION)


def story_to_json(story: StoryState) -> dict[str, Any]:
    return {
        "id": story.id,
        "centroid": dict(story.centroid),
        "members": [dict(m) for m in story.members],
        "size": story.size,
        "last": story.last,
        "years": sorted(story.years),
        "numbers": list(story.numbers),
    }


def story_from_json(data: Any) -> StoryState:
    if not isinstance(data, Mapping):
        raise StateError("story state: expected an object")
    try:
        story = StoryState(
            id=str(data["id"]),
            centroid=_vector(data["centroid"]),
            members=tuple(_vector(m) for m in data["members"]),
            size=int(data["size"]),
            last=None if data.get("last") is None else float(data["last"]),
            years=frozenset(int(y) for y in data.get("years") or ()),
            numbers=tuple(str(n) for n in data.get("numbers") or ()),
        )
    except KeyError as exc:
        raise StateError(f"story state: missing {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise StateError(f"story state {data.get('id')!r}: {exc}") from None
    if not story.members or story.size < len(story.members):
        raise StateError(f"story state {story.id!r}: {story.size} articles but {len(story.members)} members")
    return story


def state_to_json(state: ClustererState) -> dict[str, Any]:
    return {
        "version": state.version,
        "next_id": state.next_id,
        "df": {"n": state.df.n, "df": dict(state.df.df), "prior": dict(state.df.prior)},
        "stories": [story_to_json(s) for s in state.stories],
    }


def state_from_json(data: Any) -> ClustererState:
    if not isinstance(data, Mapping):
        raise StateError("engine state: expected an object")
    if data.get("version") != STATE_VERSION:
        raise StateError(f"engine state: version {data.get('version')!r}, this engine reads {STATE_VERSION}")
    try:
        df = data["df"]
        freq = FrequencyState(
            n=int(df["n"]),
            df={intern(str(t)): int(c) for t, c in df["df"].items()},
            prior={intern(str(t)): float(p) for t, p in df["prior"].items()},
        )
        return ClustererState(
            stories=tuple(story_from_json(s) for s in data["stories"]), df=freq, next_id=int(data["next_id"])
        )
    except StateError:
        raise
    except KeyError as exc:
        raise StateError(f"engine state: missing {exc.args[0]}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"engine state: {exc}") from None


def _vector(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise TypeError("a term vector must be an object of term: weight")
    # interned: every story and member vector read back would otherwise hold its own copy of each
    # term string (a replayed engine shares one per term); measured 947 MB peak for a service
    # that loaded 17k articles' stories without it
    return {intern(str(t)): float(v) for t, v in raw.items()}
