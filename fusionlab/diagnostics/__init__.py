"""Diagnostics: each returns data (a dataclass or a tidy DataFrame), never prints or plots."""
from .robustness import (modality_contributions, modality_removal, noisy_metrics, noisy_predictions,
                         robustness_curve)

__all__ = ["modality_contributions", "modality_removal", "noisy_metrics", "noisy_predictions", "robustness_curve"]
