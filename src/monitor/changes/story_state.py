"""The story engine's state as plain records, and their JSON form (pure).

`StoryClusterer.state()` returns a `ClustererState`; `StoryClusterer.restore(state)` continues
from it, placing the next articles exactly as the clusterer that produced it would have (same
vectors, same document frequencies, same story ids). A store can keep one `StoryState` per story
(written after each placement, `StoryClusterer.story_state(id)`) and the `FrequencyState`,
instead of replaying the recent articles when a process starts. The candidate index is not part
of the state: it belongs to whoever injected it (the store's `story_terms` table persists itself).

A story's JSON keeps its weights exactly (float64 arrays, base64; `story_to_json`), so a
restored clusterer computes the same similarities to the last bit. The term: weight objects of
the first form are still read.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from .vectors import NamedVector

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
    """The compact form: each term written once ("terms": the centroid's, then any a member has
    that the centroid lacks), the centroid's weights and each member's term positions and
    weights as base64 of little-endian arrays (float64: exact). About 40% smaller than term:
    weight objects and read back without parsing a float per entry."""
    terms, centroid, members = _packed_views(story) or _packed(story)
    return {
        "id": story.id,
        "terms": terms,
        "centroid": centroid,
        "members": members,
        "size": story.size,
        "last": story.last,
        "years": sorted(story.years),
        "numbers": list(story.numbers),
    }


def story_from_json(data: Any) -> StoryState:
    if not isinstance(data, Mapping):
        raise StateError("story state: expected an object")
    try:
        centroid, members = _vectors(data)
        story = StoryState(
            id=str(data["id"]),
            centroid=centroid,
            members=members,
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


def _vectors(data: Mapping[str, Any]) -> tuple[dict[str, float], tuple[dict[str, float], ...]]:
    """A story's centroid and members, from either form: compact ("terms"; story_to_json) or
    term: weight objects (written before it; still read, so a stored state need not be replayed)."""
    if "terms" not in data:
        return _vector(data["centroid"]), tuple(_vector(m) for m in data["members"])
    terms = data["terms"]
    if not isinstance(terms, list) or not set(map(type, terms)) <= {str} or len(set(terms)) < len(terms):
        raise TypeError("terms must be a list of distinct strings")
    weights = _unpack("d", data["centroid"])
    if len(weights) > len(terms):
        raise ValueError(f"{len(weights)} centroid weights for {len(terms)} terms")
    members = []
    for m in data["members"]:
        if not isinstance(m, list) or len(m) != 2:
            raise TypeError("a member must be [positions, weights]")
        at, w = _unpack("I", m[0]), _unpack("d", m[1])
        if len(at) != len(w) or (at and max(at) >= len(terms)):
            raise ValueError("a member's positions do not match its weights and the terms")
        members.append(dict(zip(map(terms.__getitem__, at), w, strict=True)))
    return dict(zip(terms, weights, strict=False)), tuple(members)


def _packed(story: StoryState) -> tuple[list[str], str, list[list[str]]]:
    terms = list(story.centroid)
    at = {t: i for i, t in enumerate(terms)}
    members = []
    for m in story.members:
        for t in m:
            if t not in at:
                at[t] = len(terms)
                terms.append(t)
        members.append([_pack("I", [at[t] for t in m]), _pack("d", m.values())])
    return terms, _pack("d", story.centroid.values()), members


def _packed_views(story: StoryState) -> tuple[list[str], str, list[list[str]]] | None:
    """The same, straight from the engine's arrays (no float is boxed: this runs at every
    placement); None unless the story's vectors are the engine's views with every member term
    in the centroid (as the engine keeps them)."""
    centroid = story.centroid
    if not isinstance(centroid, NamedVector) or not all(isinstance(m, NamedVector) for m in story.members):
        return None
    at = dict(zip(centroid.vector.ids, range(len(centroid)), strict=True))
    members = []
    for m in story.members:
        assert isinstance(m, NamedVector)  # checked above; for the type checker
        try:
            positions = array("I", map(at.__getitem__, m.vector.ids))
        except KeyError:
            return None
        members.append([_pack("I", positions), _pack("d", m.vector.weights)])
    return centroid.terms(), _pack("d", centroid.vector.weights), members


def _pack(code: str, values: Iterable[float]) -> str:
    packed = array(code, values)  # a copy even of an array: it may be byte-swapped below
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack(code: str, raw: Any) -> array[Any]:
    if not isinstance(raw, str):
        raise TypeError("a term vector must be a base64 string of little-endian values")
    data = base64.b64decode(raw, validate=True)
    out = array(code)
    if len(data) % out.itemsize:
        raise ValueError(f"a term vector of {len(data)} bytes is not a whole number of {out.itemsize}-byte values")
    out.frombytes(data)
    if sys.byteorder == "big":
        out.byteswap()
    return out


def _vector(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise TypeError("a term vector must be an object of term: weight")
    # not interned: the engine keeps term ids (changes.vectors), so these strings do not outlive
    # the restore
    return {str(t): float(v) for t, v in raw.items()}
