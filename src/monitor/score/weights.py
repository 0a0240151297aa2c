"""Every number the combination uses, in one record (``weights.json``, written by
``tools/fit_weights.py``; see docs/relevance.md for how it was fitted and measured)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from monitor.score.features import Feature
from monitor.score.relation.params import RelationParams

WEIGHTS_FILE = Path(__file__).with_name("weights.json")


def committed_relation_params() -> RelationParams:
    """The relation model's numbers as committed (``weights.json``'s ``relation`` section): the
    default of ``Weights.relation``, so a refit of the combination keeps them as they are."""
    return RelationParams.from_json(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["relation"])


@dataclass(frozen=True)
class Weights:
    """A logistic combination of the features, its default threshold, and the reading's factors.

    * ``coef``/``intercept``: fitted by logistic regression over many tracking tasks;
    * ``threshold``: the probability above which a document matches, chosen on the same tasks;
    * ``name_boost``/``number_weight``: how much names and numbers weigh in a term vector
      (lexical.py), chosen by the fit script's sweep;
    * ``rocchio``: (relevant, non-relevant) weights of judged documents as neighbours and in the
      seeds' centroid (Rocchio's beta and gamma; beta 0.25 rather than the classic 0.75: a
      judged "relevant" document may be a related story, not the seeds' own, and at 0.5 such
      revealed stories outranked the seeds' own, feedback AP2 0.975 against 0.976 seeds-only on
      the dev tasks; 0.979 at 0.25, docs/relevance.md);
    * ``threshold_span``: how far feedback may move the threshold from the default;
    * ``threshold_prior``: how many judgments the default threshold weighs as (feedback's
      threshold is shrunk toward it by n / (n + prior) after n judgments, score/feedback.py);
    * ``relation``: every number of the relation model (``relation/params.py`` says of each
      whether it is hand-set, a convention or part of a derivation from the seeds).
    """

    coef: Mapping[Feature, float]
    intercept: float
    threshold: float
    name_boost: float = 2.0
    number_weight: float = 3.0
    rocchio: tuple[float, float] = (0.5, 0.15)
    threshold_span: float = 0.15
    threshold_prior: float = 0.0
    fitted: Mapping[str, Any] = field(default_factory=dict)  # provenance: data, folds, figures
    relation: RelationParams = field(default_factory=committed_relation_params)

    @property
    def recall_weight(self) -> float:
        """The beta of the F-beta the default threshold was chosen by (the fit's provenance);
        feedback moves the threshold by the same criterion (score/feedback.py)."""
        return float(self.fitted.get("recall_weight", 1.0))

    def value(self, feats: Mapping[Feature, float]) -> float:
        z = self.intercept + sum(self.coef.get(k, 0.0) * v for k, v in feats.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict[str, Any]:
        return {
            "coef": {k.value: v for k, v in self.coef.items()},
            "intercept": self.intercept,
            "threshold": self.threshold,
            "name_boost": self.name_boost,
            "number_weight": self.number_weight,
            "rocchio": list(self.rocchio),
            "threshold_span": self.threshold_span,
            "threshold_prior": self.threshold_prior,
            "fitted": dict(self.fitted),
            "relation": self.relation.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Weights:
        return cls(
            coef={Feature(k): float(v) for k, v in data["coef"].items()},
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            name_boost=float(data.get("name_boost", 2.0)),
            number_weight=float(data.get("number_weight", 3.0)),
            rocchio=(float(data.get("rocchio", (0.5, 0.15))[0]), float(data.get("rocchio", (0.5, 0.15))[1])),
            threshold_span=float(data.get("threshold_span", 0.15)),
            threshold_prior=float(data.get("threshold_prior", 0.0)),
            fitted=dict(data.get("fitted", {})),
            relation=RelationParams.from_json(data["relation"]) if "relation" in data else committed_relation_params(),
        )


@lru_cache(maxsize=1)
def default_weights() -> Weights:
    return Weights.from_json(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")))
