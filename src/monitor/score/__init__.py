"""Relevance to the seeds (pure: no I/O).

The seeds define the topic.  A document is read once into features (``features.py``: lexical
similarity to the seeds, to their names and through its headline; the relation model of
``relation/`` where the seeds show two related sides), combined by weights fitted over many
tracking tasks (``weights.json``, ``tools/fit_weights.py``), with the threshold fitted on the same
tasks and moved by feedback.  See docs/relevance.md.
"""

from monitor.score.clean import clean_seed_text
from monitor.score.model import Evaluation, Scorer, build_scorer

__all__ = ["Evaluation", "Scorer", "build_scorer", "clean_seed_text"]
