"""Every number the relation model uses, in one record: the ``relation`` section of
``score/weights.json`` (loaded by ``score/weights.py`` as ``Weights.relation``; pure, no I/O here).

Each field says what kind of number it is:

* **convention**: a scale, a size or a definition fixed by choice, which fitting would not
  meaningfully improve (the Zipf scale's ceiling, a window of three sentences, how long an
  explanation is, how many background documents the threshold is read from);
* **hand-set**: a weight set by hand for the first, rule-based engine and not fitted since.  The
  relation model's value is one feature family of the learned scorer: the logistic combination
  (``Weights.coef``) learns how much the relation value counts as a whole, across many topics,
  and gives it nothing where the seeds show no relation; these numbers only shape that value.
  They are candidates for fitting, kept as they are because the scores must stay as measured;
* **derivation**: a constant inside a rule that derives a value from the seeds themselves at run
  time (the theme and relation normalisers, the threshold from leave-one-seed-out positives
  against a background).

Literals left in the code are structure, not parameters: 0 and 1 as neutral elements, the two
facets of a relation, index arithmetic, and float tolerances (1e-9, 1e-12) that only break ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class RelationParams:
    # -- background rarity of words and countries (shared with the lexical reading; its caches are
    # process-wide, so these five are always read from the committed record) --
    zipf_ceiling: float  # convention: rarity is ceiling - Zipf frequency (Zipf tops out near 7)
    stop_zipf: float  # convention: words at least this common (about the 150 commonest) carry no topic
    unknown_word_zipf: float  # convention: a word wordfreq does not know (a name, a typo) is read as this
    # rare, not as the rarest: rare but not trusted fully
    min_word_length: int  # convention: shorter words carry no topic (initials, particles)
    min_country_rarity: float  # convention: even the most written-about country keeps some weight

    # -- windows: a document is judged by its best window of sentences (title joins each) --
    window_sentences: int  # convention: a paragraph's worth, so a summary and a long page compare
    window_tokens: int  # convention: the words a window may hold (about a news lead)

    # -- the value of a window with two facets --
    w_conj: float  # hand-set: share of the value for both facets named in one window
    w_single: float  # hand-set: share for the stronger facet alone
    w_cover: float  # hand-set: share for how many facet places the window names
    w_theme: float  # hand-set: share for the seeds' theme terms (alone: the whole value)
    cover_places: int  # convention: places that count as full coverage
    pair_generalised: float  # hand-set: a pair of places no seed relates directly, against one a seed does
    prominence_floor: float  # hand-set: the value's factor when facet places are a minor part of
    # a document's places (rising to 1 as their share rises)
    prominence_gain: float  # hand-set: the share of facet places (times this) at which prominence is full
    region_strength: float  # hand-set: most a region (Europe, the Sahel) counts for its member facet
    title_absent: float  # hand-set: the factor when the title names no side of the relation
    # (scaled by the share of sides it misses)
    same_facet: float  # hand-set: most two members of one facet related to each other count for
    # the other facet (adjacent coverage)

    # -- a new party standing in for a facet (the document's own main country in no facet) --
    gen_actor: float  # hand-set: most the new party can stand in for the missing facet
    gen_min_stated: int  # convention: sentences that must state the relation (party and the other facet)
    gen_rarity_power: float  # hand-set: how sharply a much-covered country is discounted
    stated_strength: float  # hand-set: facet strength that counts as the other facet named
    outsider_min_mentions: int  # convention: mentions that make a country a document's main one
    title_salience: int  # convention: a title's mention counts this many times (a title names the subject)

    # -- the seed profile: parties, facets, names, theme and relation terms --
    seed_first_salience: float  # convention: a seed's first sentence (its headline or lead) counts this much
    list_min_countries: int  # convention: a coordinated list ("A, B and C") has at least this many
    list_max_gap: int  # convention: words allowed between list members ("and", "or", "nor")
    list_mate_share: float  # hand-set: salience (of the top one's) a list mate needs to join its party
    second_party_share: float  # hand-set: salience (of the top one's) the second party needs
    max_exact_colouring: int  # convention: parties coloured exactly up to this many (2^(n-1) tries),
    # greedily beyond
    min_relational_seeds: int  # convention: seeds that must relate two parties for facets to exist
    attached_weight: float  # hand-set: a proper name glued to a facet's place counts this much
    attached_max_zipf: float  # convention: only names rarer than this Zipf frequency are glued
    attached_distance: int  # convention: the most words between a name and its place
    theme_size: int  # convention: theme terms kept (the strongest)
    theme_min_seeds: int  # convention: seeds a theme term must appear in ...
    theme_min_count: int  # convention: ... or times it must appear in all seeds
    theme_share_power: float  # hand-set: how a term's share of seeds weighs it (square root)
    theme_count_damping: float  # hand-set: a term's weight grows by log(count) / this
    relation_min_seeds: int  # convention: seeds that must use a term in a two-facet sentence for
    # it to bear the relation (when there are more seeds than this)
    relation_z_divisor: float  # derivation: the relation normaliser is the median seed's relation
    # mass over this (at least 1)
    theme_z_divisor: float  # derivation: the theme normaliser is the median seed opening's theme
    # mass over this
    place_theme_weight: float  # hand-set: with no relation, the seeds' places are theme terms of
    # this weight (divided by the number of seeds)

    # -- feedback (judged documents) --
    learn_weight: float  # hand-set: most learned terms move a window's value (tanh-bounded) ...
    learn_up: float  # hand-set: ... and most they may raise it
    learn_gain: float  # hand-set: the slope of the tanh of learned term weights
    relevant_gain: float  # convention: utility of a relevant document above the threshold (an
    # irrelevant one costs 1)
    knn_weight: float  # hand-set: most the judged documents nearest to a document move its value
    knn_k: int  # convention: how many judged neighbours vote
    opening_chars: int  # convention: a document's opening (title, lead) read for feedback vectors
    opening_sentences: int  # convention: sentences of the opening that count
    threshold_down: float  # hand-set: how far feedback may lower the relation threshold
    threshold_up: float  # hand-set: how far feedback may raise it

    # -- explanations --
    explain_theme_weight: float  # convention: theme terms' weight against facets when picking the best sentence
    explain_terms: int  # convention: shared terms shown
    explain_place_weight: float  # convention: a shared place's weight when naming the nearest seed
    explain_sentence_chars: int  # convention: the best sentence is cut to this length

    # -- the threshold, derived from the seeds: leave-one-seed-out positives against a background --
    background_docs: int  # convention: pseudo-documents drawn from general word and country frequencies
    background_words: int  # convention: words per pseudo-document
    background_places: int  # convention: countries per pseudo-document
    background_quantile: float  # derivation: the background's high end (what chance reaches)
    threshold_floor: float  # derivation: the threshold with one seed (no leave-one-out) is at least this ...
    threshold_lone_margin: float  # derivation: ... and this above the background's high end
    threshold_margin: float  # derivation: with positives, at least this above the background's high end
    threshold_mix: float  # derivation: where between the background's high end and the median
    # positive the threshold sits (0.5: halfway)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RelationParams:
        """The record from its JSON section: every field, no other key, ints where ints belong."""
        names = {f.name for f in fields(cls)}
        missing, unknown = sorted(names - set(data)), sorted(set(data) - names)
        if missing or unknown:
            raise ValueError(f"weights.json relation section: missing {missing}, unknown {unknown}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            v = data[f.name]
            if f.type == "int":
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"weights.json relation.{f.name}: {v!r} is not an integer")
                values[f.name] = v
            else:
                values[f.name] = float(v)
        return cls(**values)
