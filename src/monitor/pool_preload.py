"""What the worker pool's fork server imports before it forks a worker (``workers._context``
preloads it after ``worker_main``), with the cyclic garbage collector off meanwhile.

The imports and tables (trafilatura, wordfreq's 321,000-word dict, the place-name tables) create
some 95,000 tracked objects, and the collector walked them again and again as they grew: 14 % of
the fork server's preload (0.37 → 0.32 s CPU, measured), which is what the first pages of a
``monitor poll`` wait for. Then Python's pattern for a server that forks (the ``gc`` module's
docs): disable early, ``gc.freeze()`` before forking, so that no collection in a worker (nor in
the fork server) walks what the forks share, and the collector back on for everything after.
Nothing else imports this module.
"""

from __future__ import annotations

import gc
import importlib

# in order: what a worker runs, the scorer's tables (score/warm.py), trafilatura, and one
# extraction (extract_warm.py: what trafilatura builds on its first page)
MODULES = ("monitor.workers", "monitor.score.warm", "trafilatura", "monitor.extract_warm")

gc.disable()
try:
    for _name in MODULES:
        try:  # as multiprocessing preloads: a module that cannot be imported is the worker's to find
            importlib.import_module(_name)
        except ImportError:
            pass
finally:
    gc.freeze()
    gc.enable()
