"""Where feedback moves the decision threshold (pure): the adaptive-filtering threshold rule.

The default threshold was fitted across many topics to maximise the F-beta of recall and
precision (``tools/fit_weights.py``, beta = ``Weights.recall_weight``). The adapted threshold
maximises the same criterion on the judged documents, so feedback never trades recall for
precision at another rate than the default does. The judged documents must be scored
leave-one-out (each without itself as a judged neighbour): scored with itself, a relevant
document sits far above any threshold and an irrelevant one below it, and any threshold
between looks free, which is how a +1/-1 utility drove the threshold up and recall down.
Few judgments are weak evidence against a threshold fitted across many topics: the chosen cut is
shrunk toward the default by n / (n + prior) after n judgments (``Weights.threshold_prior``).
"""

from __future__ import annotations

from collections.abc import Sequence


def f_beta(tp: int, fp: int, n_relevant: int, beta: float) -> float:
    """F-beta of precision tp / (tp + fp) and recall tp / n_relevant (0 when either is 0)."""
    if tp == 0 or n_relevant == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / n_relevant
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


def adapted_threshold(
    scored: Sequence[tuple[float, bool]], base: float, span: float, beta: float, prior: float = 0.0
) -> float:
    """The threshold within ``span`` of ``base`` with the best F-beta over the judged documents
    ``scored`` (value, relevant), the nearest to ``base`` on ties, shrunk toward ``base`` as if
    it were ``prior`` judgments; ``base`` when nothing was judged relevant (no recall to weigh:
    no evidence that any other cut is better)."""
    n_relevant = sum(1 for _v, r in scored if r)
    if n_relevant == 0:
        return base
    cands = {base} | {v for v, _r in scored} | {v + 1e-6 for v, _r in scored}
    best: tuple[tuple[float, float], float] | None = None
    for th in sorted(c for c in cands if base - span <= c <= base + span):
        tp = sum(1 for v, r in scored if r and v >= th)
        fp = sum(1 for v, r in scored if not r and v >= th)
        key = (round(f_beta(tp, fp, n_relevant, beta), 12), -abs(th - base))
        if best is None or key > best[0]:
            best = (key, th)
    if best is None:
        return base
    n = len(scored)
    return base + (best[1] - base) * n / (n + prior)
