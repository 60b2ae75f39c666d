"""UDML — noise-aware uncertainty weighting with modality-dependency compensation.

The UDML paper, "Unbiased Dynamic Multimodal Fusion" (CVPR 2026, arXiv 2603.19681); the
details follow docs/methods.md, UDML, which records the authors' public training code.

- Probabilistic encoders: ``mu_m``, ``log sigma^2_m`` per token; ``z = mu + eps sigma``
  in training, ``z = mu`` at evaluation.
- Noise-intensity predictor ``s_m = exp(1/2 f_m(pool(sigma_m).detach()))`` with
  ``f_m``: Linear -> Dropout(0.1) -> Linear(1), trained by ``MSE(s_m, t_m)``.
- ``KL(N(mu, sigma^2) || N(0, t_m))`` summed over dimensions, mean over the batch.
- Dependency ``alpha_m``: the fusion head with every other modality zeroed,
  ``sum_c mean_batch |logit_c|``; ``alpha_mode="accuracy"`` uses the accuracy drop when ``m``
  is zeroed instead.
- Weights ``w_m = M (1/(s_m^2 alpha_m)) / sum_k 1/(s_k^2 alpha_k)`` per sample (they sum
  to M), applied as ``h_m <- h_m + w_m h_m`` before fusion.
- Progressive schedule (``UDMLObjective`` in ``fusionlab.objectives``): ``s_m`` is left out of
  the training weights until ``weights_on`` is set; at evaluation the weights are always computed.

Where the paper is silent, the defaults follow the authors' public code (docs/methods.md, UDML, checked
line by line), each with our earlier reading as an option:

- ``alpha_update="step"``: alpha is overwritten by every training step's measurement (the
  authors); ``"running"``: a cumulative mean over steps.
- ``alpha_features="weighted"``: alpha is measured on the weighted features ``h_m + w_m h_m``
  (the authors evaluate the shared fusion head on them); ``"unweighted"``: on ``h_m``.
- ``alpha_in_warmup=True``: before ``weights_on``, methods with alpha already weight by
  ``1/alpha`` (the authors apply alpha during warm-up); False: weights 1 until then.
- ``aux_heads="shared"``: the unimodal logits are the shared fusion head with the other
  modalities zeroed (the authors); ``"separate"``: one linear head per modality.
- ``intensity_grad="keep"``: the weights keep ``s_m``'s gradient, so the task loss also trains
  the predictor (the authors); ``"detach"``: the predictor learns from its MSE only.
- ``estimator_input="sigma"``: the predictor reads ``pool(sigma_m)`` detached (the paper);
  ``"mu"``: ``pool(mu_m)`` detached; ``"x"``: the raw input pooled over time, read by an MLP with a
  ReLU (a linear map of x cannot read its energy) — what an estimator could learn from the input.

Methods (``VARIANTS`` registry): ``static`` (weights 1), ``pe`` (weights from mean
``sigma^2``, KL to N(0, 1), no noise supervision, no alpha), ``udml_no_alpha`` and
``udml``. Everything a figure or the loss needs comes back in ``ModelOutput.extras``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import rng
from ..signals import Replace, Signal, check_replace, per_modality, repeat_rows, tap_rows
from ..fusion import FUSIONS, check_fusion_options, create_fusion, pool
from ..registry import Registry
from .fusion_model import ModelOutput

ALPHA_MODES = ("logit", "accuracy")
CHOICES = {"alpha_mode": ALPHA_MODES, "alpha_update": ("step", "running"),
           "alpha_features": ("weighted", "unweighted"), "aux_heads": ("shared", "separate"),
           "intensity_grad": ("keep", "detach"), "estimator_input": ("sigma", "mu", "x"),
           "mse_reduction": ("mean", "sum"), "head": ("mlp", "linear")}
# the operators UDML can take: alpha_m reads the fusion head with every other modality zeroed, which means "this
# modality alone" only where a zeroed modality adds nothing sample-dependent (``Fusion.zero_is_absent``)
FUSIONS_ALLOWED = tuple(n for n in FUSIONS.names() if FUSIONS.get(n).zero_is_absent)


@dataclass(frozen=True)
class MethodSpec:
    weighting: str  # none | variance | intensity
    noise_supervision: bool  # KL to N(0, t) and MSE on the predicted intensity
    use_alpha: bool


VARIANTS: Registry = Registry("udml method")
VARIANTS.register("static", "static fusion: all weights 1")(MethodSpec("none", False, False))
VARIANTS.register("pe", "probabilistic-embedding dynamic fusion: weights from mean sigma^2")(
    MethodSpec("variance", False, False))
VARIANTS.register("udml_no_alpha", "noise-aware estimator only (no dependency alpha)")(
    MethodSpec("intensity", True, False))
VARIANTS.register("udml", "noise-aware estimator and dependency alpha (full UDML)")(
    MethodSpec("intensity", True, True))


@dataclass(frozen=True)
class UDMLConfig:
    """Architecture and loss weights; ``asdict()`` goes into results files."""

    method: str = "udml"
    enc_dim: int = 32
    head_hidden: int = 32
    dropout: float = 0.1
    fusion: str = "concat"
    gamma: float = 3.0  # weight of the unimodal cross-entropies
    beta: float = 1e-4  # weight of the KL term
    mse_weight: float = 0.1
    alpha_mode: str = "logit"  # logit | accuracy
    alpha_floor: float = 1e-2  # keeps 1/alpha finite (accuracy mode can measure 0)
    alpha_update: str = "step"  # step (the authors: overwritten every step) | running (cumulative mean)
    alpha_features: str = "weighted"  # weighted (the authors) | unweighted
    alpha_in_warmup: bool = True  # the authors weight by 1/alpha during warm-up too
    aux_heads: str = "shared"  # shared fusion head, others zeroed (the authors) | separate linear heads
    intensity_grad: str = "keep"  # keep s_m's gradient in the weights (the authors) | detach
    estimator_input: str = "sigma"  # sigma (the paper) | mu | x (the raw input: the ceiling)
    # the noise MSE over samples and modalities: mean (ours) | sum over modalities of each one's mean over samples
    # (the authors' code: M times the weight, twice at two modalities)
    mse_reduction: str = "mean"
    # the fusion head: mlp, Linear-ReLU-Dropout-Linear (ours) | linear, one Linear (the authors' code: the logits of a
    # modality alone, the others zeroed, keep the bias, and alpha passes through no ReLU or dropout)
    head: str = "mlp"
    # alpha before its first measurement: one value for every modality, or one per modality (ours 1; the authors'
    # code 32 for audio, 10 for video)
    alpha_init: Tuple[float, ...] = (1.0,)
    fusion_options: Dict[str, Any] = field(default_factory=dict)  # the fusion operator's declared options

    def __post_init__(self) -> None:
        VARIANTS.get(self.method)
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got '{getattr(self, name)}'")
        if self.fusion not in FUSIONS_ALLOWED:
            raise ValueError(f"UDML's fusion must be one of {FUSIONS_ALLOWED}, got '{self.fusion}'")
        check_fusion_options(self.fusion, self.fusion_options)
        for name in ("enc_dim", "head_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        for name in ("gamma", "beta", "mse_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.alpha_floor <= 0:
            raise ValueError(f"alpha_floor must be > 0, got {self.alpha_floor}")
        init = self.alpha_init if isinstance(self.alpha_init, (list, tuple)) else (self.alpha_init,)
        object.__setattr__(self, "alpha_init", tuple(float(v) for v in init))
        if not 1 <= len(self.alpha_init) <= 256 or not all(0 < v <= 1000 for v in self.alpha_init):
            raise ValueError(f"alpha_init must be 1 to 256 values in (0, 1000], got {list(self.alpha_init)}")


class ProbEncoder(nn.Module):
    """Per-token MLP trunk with a mean and a log-variance head: ``(B, T, D) -> 2 x (B, T, d)``."""

    def __init__(self, d_in: int, d: int, dropout: float) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d_in, d), nn.ReLU(), rng.Dropout(dropout))
        self.mu = nn.Linear(d, d)
        self.logvar = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.mu(h), self.logvar(h).clamp(-10.0, 10.0)


def normalised_weights(uncertainty: torch.Tensor) -> torch.Tensor:
    """``M * (1/u_m) / sum_k (1/u_k)`` per row of ``uncertainty`` ``(B, M)``; rows sum to M."""
    inv = 1.0 / uncertainty.clamp_min(1e-8)
    return uncertainty.shape[1] * inv / inv.sum(dim=1, keepdim=True)


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, e^logvar) || N(0, t))`` per sample, summed over all but the batch dim; ``(B,)``."""
    t = t.view(-1, *([1] * (mu.ndim - 1)))  # (B, 1, 1)
    var = logvar.exp()
    kl = 0.5 * ((var + mu**2) / t - 1.0 - logvar + torch.log(t))
    return kl.flatten(1).sum(dim=1)


class UDMLModel(nn.Module):
    """Probabilistic encoders -> per-sample weights -> fusion -> head, plus unimodal heads."""

    def __init__(self, shapes: Mapping[str, Tuple[int, int]], n_classes: int, cfg: UDMLConfig = UDMLConfig()) -> None:
        super().__init__()
        self.spec: MethodSpec = VARIANTS.get(cfg.method)
        self.cfg, self.names, self.n_classes = cfg, list(shapes), n_classes
        d = cfg.enc_dim
        self.encoders = nn.ModuleDict({k: ProbEncoder(shapes[k][1], d, cfg.dropout) for k in self.names})
        if cfg.estimator_input == "x":  # the raw input: an MLP (a linear map of x cannot read its energy)
            self.predictors = nn.ModuleDict({k: nn.Sequential(nn.Linear(shapes[k][1], d), nn.ReLU(), rng.Dropout(0.1),
                                                              nn.Linear(d, 1)) for k in self.names})
        else:  # the paper's f_m: Linear -> Dropout -> Linear on sigma (or mu), already nonlinear in x
            self.predictors = nn.ModuleDict({k: nn.Sequential(nn.Linear(d, d), rng.Dropout(0.1), nn.Linear(d, 1))
                                             for k in self.names})
        self.unimodal = (nn.ModuleDict({k: nn.Linear(d, n_classes) for k in self.names})
                         if cfg.aux_heads == "separate" else None)
        self.fusion = create_fusion(cfg.fusion, [d] * len(self.names), self.names, dim=d, **cfg.fusion_options)
        self.head = (nn.Sequential(nn.Linear(self.fusion.out_dim, n_classes)) if cfg.head == "linear" else
                     nn.Sequential(nn.Linear(self.fusion.out_dim, cfg.head_hidden), nn.ReLU(),
                                   rng.Dropout(cfg.dropout), nn.Linear(cfg.head_hidden, n_classes)))
        m = len(self.names)
        if len(cfg.alpha_init) not in (1, m):
            raise ValueError(f"alpha_init gives {len(cfg.alpha_init)} values for {m} modalities (give one, or one per "
                             "modality)")
        self.register_buffer("alpha_sum", torch.zeros(m))
        self.register_buffer("alpha_count", torch.zeros((), dtype=torch.long))
        self.register_buffer("weights_on", torch.tensor(True))

    # -- dependency alpha -------------------------------------------------
    @property
    def alpha(self) -> torch.Tensor:
        """The dependency per modality ``(M,)`` (the last step's, or the running mean); ``alpha_init`` before any
        step."""
        if int(self.alpha_count) == 0:
            return torch.tensor(self.cfg.alpha_init, dtype=torch.float32).expand(len(self.names)).clone()
        return (self.alpha_sum / self.alpha_count).clamp_min(self.cfg.alpha_floor)

    def _classify(self, hs: List[torch.Tensor], replace: Optional[Replace] = None) -> torch.Tensor:
        return self.head(self.fusion(hs, replace).fused)

    def _masked_logits(self, hs: List[torch.Tensor], keep: bool) -> torch.Tensor:
        """The shared head with only modality m kept (``keep``) or m zeroed, for every m: ``(B, M, C)``."""
        out = []
        for m in range(len(hs)):
            masked = [h if (k == m) == keep else torch.zeros_like(h) for k, h in enumerate(hs)]
            out.append(self._classify(masked))
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def _probe(self, hs: List[torch.Tensor]) -> torch.Tensor:
        """Logits with only modality m kept (logit mode) or m zeroed (accuracy mode): ``(B, M, C)``."""
        return self._masked_logits(hs, self.cfg.alpha_mode == "logit")

    @torch.no_grad()
    def update_alpha(self, probe: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        """One training step's dependency measurement: it replaces alpha (``step``) or joins the running mean."""
        if self.cfg.alpha_mode == "logit":
            step = probe.abs().mean(dim=0).sum(dim=-1)  # (M,)
        else:
            full = (logits.argmax(-1) == y).float().mean()
            step = (full - (probe.argmax(-1) == y[:, None]).float().mean(dim=0)).clamp_min(0.0)
        if self.cfg.alpha_update == "step":  # the authors: the latest measurement replaces the last
            self.alpha_sum.copy_(step)
            self.alpha_count.fill_(1)
        else:
            self.alpha_sum += step
            self.alpha_count += 1

    # -- forward ----------------------------------------------------------
    def _uncertainty(self, intensity: torch.Tensor, variance: torch.Tensor, warm: bool) -> Optional[torch.Tensor]:
        """What the weights are inversely proportional to, ``(B, M)``, or None for weights 1. ``warm``:
        the training weights are not on yet (only alpha may weigh then, with ``alpha_in_warmup``)."""
        alpha = self.alpha[None, :].expand_as(intensity)
        if warm:
            use = self.spec.use_alpha and self.cfg.alpha_in_warmup
            return alpha.clone() if use else None
        if self.spec.weighting == "variance":
            return variance.detach()
        if self.spec.weighting == "intensity":
            s_hat = intensity if self.cfg.intensity_grad == "keep" else intensity.detach()
            u = s_hat ** 2
            return u * alpha if self.spec.use_alpha else u
        return None

    def _estimator_input(self, x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        source = {"sigma": sigma, "mu": mu, "x": x}[self.cfg.estimator_input]
        return pool(source).detach()

    def _encode(self, k: str, x: torch.Tensor):
        """Modality ``k``'s encoding: ``mu, logvar, sigma`` ``(B, T, d)``, its noise estimate ``s_hat`` and mean
        variance ``(B,)``."""
        mu, logvar = self.encoders[k](x)
        sigma = (0.5 * logvar).exp()
        s_hat = torch.exp(0.5 * self.predictors[k](self._estimator_input(x, mu, sigma)).squeeze(-1))
        return mu, logvar, sigma, s_hat, sigma.pow(2).flatten(1).mean(dim=1)

    @torch.no_grad()
    def estimate(self, k: str, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Modality ``k``'s noise estimates from its input alone, in evaluation mode: ``intensity`` (s_hat) and
        ``variance`` ``(B,)``, as ``forward`` computes them, without the fusion and the head (an estimate depends on
        its own modality only: a sweep of one modality needs nothing else)."""
        was = self.training
        self.eval()
        try:
            _, _, _, s_hat, var = self._encode(k, x)
        finally:
            self.train(was)
        return {"intensity": s_hat, "variance": var}

    def signals(self) -> Dict[str, Signal]:
        """The weights ``w_m`` ``(B,)`` (key ``weights/<m>``), and the fusion operator's signals."""
        return {**per_modality("w", "weights", self.names), **self.fusion.signals()}

    def forward(self, xs: Mapping[str, torch.Tensor], replace: Optional[Replace] = None):
        """``replace``: functions that replace declared signals (:mod:`fusionlab.signals`)."""
        missing = [k for k in self.names if k not in xs]
        if missing:
            raise ValueError(f"inputs lack modalities {missing}; the model needs {self.names}")
        if replace:
            check_replace(replace, self.signals())
        extras: Dict[str, torch.Tensor] = {}
        hs, intensity, variance = [], [], []
        for k in self.names:
            mu, logvar, sigma, s_hat, var = self._encode(k, xs[k])
            z = mu + rng.randn_like(mu) * sigma if self.training else mu
            hs.append(z)
            intensity.append(s_hat)
            variance.append(var)
            extras[f"mu/{k}"], extras[f"logvar/{k}"] = mu, logvar
            if self.unimodal is not None:
                extras[f"unimodal/{k}"] = self.unimodal[k](pool(z))
        intensity_t, variance_t = torch.stack(intensity, 1), torch.stack(variance, 1)  # (B, M)
        u = self._uncertainty(intensity_t, variance_t, warm=self.training and not bool(self.weights_on))
        w = normalised_weights(u) if u is not None else torch.ones_like(intensity_t)
        if replace:
            w = torch.stack(tap_rows(replace, [f"weights/{k}" for k in self.names], list(w.unbind(1))), dim=1)
            hs = [repeat_rows(h, len(w)) for h in hs]
        weighted = [h + w[:, m, None, None] * h for m, h in enumerate(hs)]  # h_m <- h_m + w_m h_m
        if self.unimodal is None:  # the shared head with the other modalities zeroed (the authors)
            uni = self._masked_logits(weighted, keep=True)  # (B, M, C), with gradient
            for m, k in enumerate(self.names):
                extras[f"unimodal/{k}"] = uni[:, m]
        if self.training:
            probed = weighted if self.cfg.alpha_features == "weighted" else hs
            if self.unimodal is None and self.cfg.alpha_mode == "logit" and probed is weighted:
                extras["probe"] = uni.detach()  # the same logits: no second pass
            else:
                extras["probe"] = self._probe([h.detach() for h in probed])
        extras.update(intensity=intensity_t, variance=variance_t, weights=w,
                      alpha=self.alpha[None, :].expand(len(w), -1).clone())
        return ModelOutput(self._classify(weighted, replace), extras)


def udml_loss(model: UDMLModel, output, y: torch.Tensor, t: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, float]]:
    """``CE(fused) + gamma sum CE(unimodal) + beta KL + mse_weight MSE``; ``t`` is ``(B, M)``.

    Methods without noise supervision use the prior N(0, 1) and no MSE. Also
    updates the running alpha from ``output.extras['probe']`` when the method uses it.
    """
    cfg, spec, ex = model.cfg, model.spec, output.extras
    if t.shape != (len(y), len(model.names)):
        raise ValueError(f"intensity labels t have shape {tuple(t.shape)}; expected ({len(y)}, {len(model.names)})")
    ce = F.cross_entropy(output.logits, y)
    uni = sum(F.cross_entropy(ex[f"unimodal/{k}"], y) for k in model.names)
    prior = t if spec.noise_supervision else torch.ones_like(t)
    kl = sum(kl_to_prior(ex[f"mu/{k}"], ex[f"logvar/{k}"], prior[:, m]).mean() for m, k in enumerate(model.names))
    if spec.noise_supervision:
        per_modality = (ex["intensity"] - t).pow(2).mean(dim=0)  # (M,)
        mse = per_modality.sum() if cfg.mse_reduction == "sum" else per_modality.mean()
    else:
        mse = torch.zeros(())
    if "probe" in ex:  # measured for every method (figure c); only udml uses it
        model.update_alpha(ex["probe"], output.logits, y)
    total = ce + cfg.gamma * uni + cfg.beta * kl + cfg.mse_weight * mse
    return total, {k: float(v.detach()) for k, v in (("ce", ce), ("unimodal", uni), ("kl", kl), ("mse", mse))}


def build_udml(shapes: Mapping[str, Tuple[int, int]], n_classes: int, cfg: UDMLConfig = UDMLConfig(),
               seed: int = 0) -> UDMLModel:
    """A UDML-family model whose initialisation depends only on ``seed``."""
    with rng.seeded_init(seed):
        return UDMLModel(shapes, n_classes, cfg)
