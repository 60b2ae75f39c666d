"""Diagnostics: each returns data (a dataclass or a tidy DataFrame), never prints or plots."""
from .robustness import (NoisyEvaluation, modality_contributions, modality_removal, noisy_evaluation, noisy_metrics,
                         noisy_predictions, robustness_curve)

__all__ = ["NoisyEvaluation", "modality_contributions", "modality_removal", "noisy_evaluation", "noisy_metrics",
           "noisy_predictions", "robustness_curve"]
