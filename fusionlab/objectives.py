"""Training objectives beyond the default (``train.Objective``: cross-entropy + the model's extra loss).

``UDMLObjective``: the UDML paper's progressive schedule (docs/methods.md, UDML, ``models.udml_schedule``) —
clean batches for the first E1 epochs, then intensity-labelled gaussian noise per sample and
modality (drawn once per training sample and kept, or redrawn every batch: ``NoiseSchedule.labels``);
``s_m`` left out of the training weights until epoch E1 + delay; the loss ``udml_loss`` (CE of the
fused head, γ × the unimodal CEs, β KL to N(0, t), 0.1 MSE of the intensity estimate). The noise
draws come from the run's ``objective`` stream, so the same seed gives the same labels and noise.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from .data.dataset import PreparedData
from .models.udml import UDMLModel, udml_loss
from .models.udml_schedule import NoiseSchedule, add_intensity_noise, draw_intensities
from .train import Objective, forward


class UDMLObjective(Objective):
    def __init__(self, schedule: NoiseSchedule = NoiseSchedule()) -> None:
        self.schedule = schedule
        self.generator: Optional[torch.Generator] = None
        self.stats: Dict = {}
        self.names: list = []
        self.fixed: Optional[torch.Tensor] = None  # (n_train, M) labels kept for all epochs (labels="fixed")

    def start(self, model: UDMLModel, data: PreparedData, generator: torch.Generator) -> None:
        missing = [k for k in model.names if k not in data.train.xs]
        if missing:
            raise ValueError(f"the data lack modalities {missing}; the model needs {model.names}")
        self.generator, self.stats, self.names = generator, data.stats, list(model.names)
        s = self.schedule
        self.fixed = (draw_intensities(len(data.train), len(self.names), generator, s.max_intensity, s.p_clean,
                                       s.clean_draw == "exact") if s.labels == "fixed" else None)

    def epoch(self, model: UDMLModel, epoch: int) -> None:
        s = self.schedule
        model.weights_on.fill_(epoch > s.clean_epochs + s.weight_delay)

    def batch(self, xs, y, rows, epoch) -> Tuple[Dict[str, torch.Tensor], Any]:
        s, m = self.schedule, len(self.names)
        xs = {k: xs[k] for k in self.names}
        if epoch <= s.clean_epochs:
            return xs, torch.ones(len(y), m)
        t = (self.fixed[rows] if self.fixed is not None else
             draw_intensities(len(y), m, self.generator, s.max_intensity, s.p_clean, s.clean_draw == "exact"))
        return add_intensity_noise(xs, t, self.generator, self.stats, s), t

    def loss(self, model: UDMLModel, xs, y, context) -> torch.Tensor:
        return udml_loss(model, forward(model, xs), y, context)[0]

    def finish(self, model: UDMLModel) -> None:
        model.weights_on.fill_(True)
