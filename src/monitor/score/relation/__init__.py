"""The relation model: one feature family of the scorer (pure: no I/O).

What the seeds relate, found in the seeds themselves.  ``build_relation`` reads them into a profile of

* **facets**: groups of places the seeds relate to each other.  Every seed is read as a
  relation between two parties (its most salient country or coordinated list of countries,
  and the most salient other one); the parties of all seeds are 2-coloured into two facets
  ("who" and "with whom"), so that a seed pairing A with B and another pairing C with B put
  A and C on the same side.  Country mentions are normalised with a general gazetteer of all
  countries (names, aliases, demonyms, capitals) and world regions; rare proper names that
  sit right next to a facet's country in the seeds (an organisation, a person) join that facet
  with a lower weight.
* **theme**: the seeds' salient non-place terms, weighted by background rarity (``wordfreq``
  Zipf frequency as an IDF prior, never the topic-heavy stream) and by how many seeds share
  them.

A document is read in windows of a few sentences (the title joins every window), so a
40-word summary and a 3,000-word article are judged alike: the best window decides, and a
conjunction of facets inside one window counts, not scattered mentions.  The value is
``w_conj*conj + w_single*single + w_cover*cover + w_theme*theme`` (without facets: the theme alone), times a
title factor (a title naming only part of the relation is less surely the story), plus what
feedback has taught (Rocchio term weights and a vote of the nearest judged documents).  Partial
credit stands in for a missing facet in two cases, scaled by the seeds' relation-bearing terms:
a document's own main country that is in no facet (a new party in the seed relation), and two
members of one facet related to each other (adjacent coverage).  See docs/relevance.md.

Every number is a field of ``RelationParams`` (``params``), the ``relation`` section of the
weights record (``score/weights.json``), which says of each whether it is hand-set, a convention
or part of a derivation from the seeds.

Modules: ``params`` (the numbers), ``reading`` (reading a text: sentences, places, vocabulary),
``profile`` (the seed profile), ``window`` (a document's windows), ``scorer``
(``RelationScorer``), ``threshold`` (the threshold and ``build_relation``).
"""

from __future__ import annotations

# names other modules and the tests import from ``monitor.score.relation`` (redundant aliases
# mark them as re-exports)
from monitor.score.clean import clean_seed_text
from monitor.score.relation.params import RelationParams
from monitor.score.relation.profile import _build_profile as _build_profile
from monitor.score.relation.profile import _Profile as _Profile
from monitor.score.relation.reading import _IDF as _IDF
from monitor.score.relation.reading import _Doc as _Doc
from monitor.score.relation.reading import _Lexicon as _Lexicon
from monitor.score.relation.reading import _read as _read
from monitor.score.relation.reading import _read_fast as _read_fast
from monitor.score.relation.reading import _Sent as _Sent
from monitor.score.relation.reading import country_rarity as country_rarity
from monitor.score.relation.reading import idf as idf
from monitor.score.relation.scorer import RelationScorer
from monitor.score.relation.threshold import build_relation
from monitor.score.relation.window import _Eval as _Eval

__all__ = ["RelationParams", "RelationScorer", "build_relation", "clean_seed_text"]
