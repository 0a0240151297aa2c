"""Builds the scorer's tables on import: the worker pool's fork server imports this module
(``monitor.workers``), so every worker forks with the place tables and the word rarity table
(wordfreq's dict, which score/zipf.py then answers from: the workers' story terms read it anyway)
already in memory instead of building them (~0.3 s CPU) on its first page.  Anything else builds
them on first use (``text.gazetteer``), so a command that scores nothing never pays."""

from __future__ import annotations

from monitor.score import zipf
from monitor.score.text import gazetteer

zipf.preload()  # first: the gazetteer's triggers then read wordfreq's dict, never bisect
gazetteer()
