"""Training: the target classifier, trained with or without a defense at a cut (:mod:`.classifier`)."""
from __future__ import annotations

from ..core.inference import predict
from .classifier import (TrainConfig, TrainedClassifier, accuracy, held_out, observed_classifier, smoothed_targets,
                         soft_cross_entropy, train_classifier, validation_split)

__all__ = ["TrainConfig", "TrainedClassifier", "accuracy", "held_out", "observed_classifier", "predict",
           "smoothed_targets", "soft_cross_entropy", "train_classifier", "validation_split"]
