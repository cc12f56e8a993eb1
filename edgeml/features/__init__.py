"""The feature stage: raw windows -> features, identical in Python and in the exported C.

* :mod:`.spec`: :class:`FeatureSpec` (what to compute) and :class:`FittedFeatures`
  (plus the normalization fitted on training data), both JSON round-trippable;
* :mod:`.windows`: stream checks (timestamps, NaN gaps) and windowing;
* :mod:`.compute`: statistics, FFT band energies, log-mel / MFCC, tabular terms;
* :mod:`.select`: tabular construction + stable selection (Nogueira et al. 2018);
* :mod:`.build`: recordings -> split by recording/group -> features -> Dataset;
* :mod:`.cost`: RAM, flash and cycles of the exported stage on a target;
* :mod:`.tune`: a kind's window / frame / mel parameters, chosen by a fast proxy.
"""

from __future__ import annotations

from .build import (
                    FeatureSet,
                    build_features,
                    candidate_specs,
                    default_spec,
                    load_feature_set,
                    split_groups,
)
from .compute import compute, fit, quantize, transform
from .cost import FeatureCost, feature_cost
from .select import Selection, nogueira_stability, select_terms
from .spec import KINDS, STATS, FeatureSpec, FittedFeatures

__all__ = ["FeatureSpec", "FittedFeatures", "KINDS", "STATS", "compute", "fit", "transform",
           "quantize", "FeatureSet", "build_features", "load_feature_set", "default_spec", "candidate_specs",
           "split_groups", "FeatureCost", "feature_cost", "Selection", "select_terms",
           "nogueira_stability"]
