"""VGMR — Value-Gated Modality Refiner (the VGMR paper, "Before Fusion, Ask What to Keep"; docs/methods.md, VGMR).

Applied to every modality's *original* features before the backbone:

1. projection ``P_m = phi_m(X_m)`` ``(B, T_m, d)``;
2. summary ``s_m = psi_m([mean_t P_m ; max_t P_m])`` ``(B, d)``;
3. evidence for target ``m``: agreement ``a_mn = s_m * s_n``, discrepancy ``|s_m - s_n|``,
   context ``c_m = mean_{n != m} s_n``; ``z_m = [s_m; {s_n}; {a_mn}; {d_mn}; c_m]``;
4. values ``u_m = E_m(z_m)``, ``v_g = sigmoid(w^T u + b)``, ``v_c = sigmoid(W u + b')``;
5. gate ``G = sigmoid(A(X) + B(P) + C(v_g - 1/2) + D(v_c - 1/2))`` ``(B, T_m, D_m)``;
6. amplification ``G_amp = 1 + lambda (2G - 1)``;
7. residual retention ``G_eff = rho + (1 - rho) G_amp`` **[choice]**;
8. ``X~ = Dropout(LayerNorm(G_eff * X))`` (``norm="post-gate"``, the paper); ``"pre-gate"`` is
   ``G_eff * LayerNorm(X)`` and ``"none"`` ``G_eff * X``. The post-gate LayerNorm over channels
   cancels any scaling uniform within a timestep: only contrasts between channels survive.

Loss (§3.8): ``beta * L_value + gamma * L_reg`` is added to the task loss by ``extra_loss``.
``Delta_{m,i} = l_i(m dropped) - l_i(all)``, the task loss of each sample, without gradient, in
eval mode **[choice]** (both losses from one stacked forward, so dropout noise does not enter
``Delta``); target ``sigmoid(Delta / tau)`` **[choice]** per sample (``value_target="sample"``,
docs/methods.md, VGMR as revised: the paper's values are "instance-wise") or the batch mean of ``Delta_m``
(``"batch"``, the earlier reading); ``L_reg = sum_m relu(kappa - sd_batch(v_g)) +
mean_channels relu(kappa - sd_batch(v_c))`` **[choice]** (``regulariser="both"``; ``"global"`` keeps
the ``v_g`` term only, with which 82-100 % of ``v_c`` entries were measured saturated). A dropped
modality is all zeros, i.e. its train mean after standardisation (the ``drop`` corruption).

Implementation: every weight is modality-specific, but modalities of one shape run in one
batched matmul per step (stacked ``(M_g, B, T, D)``; see :class:`VGMR`, weights in ``vgmr_weights``), which keeps the
overhead over a small backbone down. The ablation switches
(§4.3) remove a term from the gate (``use_global_value``, ``use_channel_value``) or from
``z_m`` (``use_agreement``, ``use_discrepancy``); ``ABLATIONS`` names the six rows.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import rng
from ..options import check_declared, check_options, option
from ..signals import Replace, Signal, repeat_rows, tap_rows
from . import REFINERS
from .vgmr_weights import GroupWeights, ShapeGroup, StackedLinear, StackedMLP  # noqa: F401  (re-exported)

PREFIX = "vgmr"
PARTS = ("v_g", "v_c", "G", "G_eff", "X_refined")
SIGNALS = ("v_g", "v_c", "G_eff")  # the per-sample signals the rest of the pass uses (docs/methods.md, signal permutation test)


@dataclass(frozen=True)
class VGMRConfig:
    """Options of the refiner; ``asdict()`` is what ``ModelConfig.refiner_options`` holds."""

    d: int = 32  # shared latent size
    lambda_amp: float = option(0.5, "VGMR amplification λ: how far the gate may amplify (G_amp in [1 - λ, 1 + λ])",
                               flag="--lambda-amp", lo=0.0, hi=1.0, step=0.05, label="amplification λ")
    rho: float = option(0.2, "VGMR residual retention ρ: the share of each feature the gate cannot touch",
                        flag="--rho", lo=0.0, hi=1.0, step=0.05, label="residual retention ρ")
    dropout: float = 0.1
    beta: float = 0.1  # weight of L_value
    gamma: float = 0.1  # weight of L_reg
    tau: float = 0.25  # temperature of the value target sigmoid(Delta / tau)
    kappa: float = 0.05  # minimum batch sd of v_g (and of each v_c channel, regulariser="both") before L_reg penalises
    value_rows: int = option(16, "rows of each batch the value target Δ is computed on (0: all; the default 16 is a "
                             "quarter of the default 64-row batch). Δ re-runs the model once per modality without "
                             "it: on every row about half of VGMR's training time; fewer rows make it cheaper and "
                             "noisier (an unbiased estimate of the same loss)", flag="--value-rows",
                             lo=0, hi=4096, step=8, label="value target rows per batch (0: all)")
    value_target: str = option("sample", "what the values learn to predict: each sample's loss increase when the "
                               "modality is dropped (per sample), or the batch's average, which only ranks the "
                               "modalities", flag="--value-target", choices=("sample", "batch"), label="value target",
                               words={"sample": "per sample (the default)", "batch": "batch mean"})
    regulariser: str = option("both", "the anti-collapse term penalises values that stop varying across samples; on "
                              "v_g only, most channel values end up stuck near 0 or 1", flag="--regulariser",
                              choices=("both", "global"), label="anti-collapse term on",
                              words={"both": "v_g and v_c (the default)", "global": "v_g only"})
    norm: str = option("post-gate", "where the LayerNorm sits: after the gate (the paper) it cancels any suppression "
                       "uniform across a timestep's channels; before the gate, the gate's scaling reaches the "
                       "backbone", flag="--norm", choices=("post-gate", "pre-gate", "none"), label="LayerNorm",
                       words={"post-gate": "after the gate (paper)", "pre-gate": "before the gate", "none": "none"})
    use_global_value: bool = True  # C_m(v_g - 1/2) in the gate
    use_channel_value: bool = True  # D_m(v_c - 1/2) in the gate
    use_agreement: bool = True  # {a_mn} in z_m
    use_discrepancy: bool = True  # {delta_mn} in z_m

    def __post_init__(self) -> None:
        check_options(self)  # the declared options within their one range (the page's and the flags')


ABLATIONS: Dict[str, Dict[str, bool]] = {
    "full VGMR": {},
    "w/o channel value": {"use_channel_value": False},
    "w/o global value": {"use_global_value": False},
    "w/o both values": {"use_global_value": False, "use_channel_value": False},
    "w/o agreement": {"use_agreement": False},
    "w/o discrepancy": {"use_discrepancy": False},
    "w/o agreement and discrepancy": {"use_agreement": False, "use_discrepancy": False},
}


check_declared(VGMRConfig)
CHOICES = {f.name: f.metadata["choices"] for f in fields(VGMRConfig) if f.metadata.get("kind") != "int"
           and f.metadata.get("choices")}  # value_target, regulariser, norm


def key(part: str, name: str) -> str:
    """Extras key of one part for one modality, e.g. ``vgmr/G_eff/pix``."""
    return f"{PREFIX}/{part}/{name}"


def make_config(options: Mapping) -> VGMRConfig:
    known = {f.name for f in fields(VGMRConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown VGMR option(s) {unknown}; known: {sorted(known)}")
    cfg = VGMRConfig(**options)
    for name, allowed in CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"VGMR {name} must be one of {allowed}, got {getattr(cfg, name)!r}")
    if cfg.d < 1 or not 0 <= cfg.lambda_amp <= 1 or not 0 <= cfg.rho <= 1 or cfg.tau <= 0 or cfg.value_rows < 0:
        raise ValueError(f"VGMR needs d >= 1, lambda in [0, 1], rho in [0, 1], tau > 0, value_rows >= 0; got {cfg}")
    return cfg


@REFINERS.register("vgmr", "Value-Gated Modality Refiner (the VGMR paper): value-conditioned gate on each input")
class VGMR(nn.Module):
    """All modalities of one shape run through every step at once, stacked as ``(M_g, B, T, D)``.

    Modalities are grouped by their ``(T, D)``; the shape-dependent steps (projection,
    pooling, gate, LayerNorm) take one batched matmul per group, with that group's stacked
    weights (:class:`GroupWeights`), and the value steps, which see only ``d``-sized
    summaries, one for all modalities. Equal shapes (the synthetic sequences) make one group:
    ~40 tensor operations per forward whatever ``M`` is. (Zero-padding every modality to the
    largest ``T x D`` instead made uci-digits' 1 x 76 and 1 x 6 vectors pay for 16 x 76 inputs
    beside the 16 x 15 image rows: 7x the model's forward FLOPs, and padded weights counted
    as parameters.)
    """

    def __init__(self, shapes: Mapping[str, Tuple[int, int]], **options) -> None:
        super().__init__()
        self.cfg = cfg = make_config(options)
        self.names: List[str] = list(shapes)
        m, d = len(self.names), cfg.d
        if m < 2:
            raise ValueError(f"VGMR compares modalities with each other and needs at least 2; got {self.names}")
        self.shapes = {k: (int(v[0]), int(v[1])) for k, v in shapes.items()}
        by_shape: Dict[Tuple[int, int], List[int]] = {}
        for i, shape in enumerate(self.shapes.values()):
            by_shape.setdefault(shape, []).append(i)
        self.groups = [ShapeGroup(tuple(idx), t, c) for (t, c), idx in by_shape.items()]
        order = [i for g in self.groups for i in g.index]  # group-major order of the modalities
        self.regroup = None if order == list(range(m)) else [order.index(i) for i in range(m)]
        self.register_buffer("others", torch.tensor([[n for n in range(m) if n != i] for i in range(m)]),
                             persistent=False)  # (M, M-1)
        n_value = int(cfg.use_global_value) + d * int(cfg.use_channel_value)
        self.blocks = nn.ModuleList([GroupWeights(len(g.index), g.d, d, n_value) for g in self.groups])
        self.summary = StackedMLP(m, 2 * d, d, d)  # psi_m
        self.value_encoder = StackedMLP(m, self.interaction_dim(), d, d)  # E_m
        self.value_head = StackedLinear(m, d, 1 + d)  # [w_m ; W_m]
        self.drop = rng.Dropout(cfg.dropout)

    def modality_weights(self, name: str) -> Dict[str, torch.Tensor]:
        """One modality's shape-dependent weights (views into its group's stacked parameters)."""
        i = self.names.index(name)
        for g, block in zip(self.groups, self.blocks):
            if i in g.index:
                j = g.index.index(i)
                return {k: p[j] for k, p in block.named_parameters()}
        raise AssertionError(name)  # pragma: no cover - every modality is in a group

    def interaction_dim(self) -> int:
        m, c = len(self.names), self.cfg
        return self.cfg.d * (2 + (m - 1) * (1 + int(c.use_agreement) + int(c.use_discrepancy)))

    def stack(self, xs: Mapping[str, torch.Tensor]) -> List[torch.Tensor]:
        """Inputs as one ``(M_g, B, T, D)`` tensor per shape group."""
        for k in self.names:
            t, d = self.shapes[k]
            if k not in xs or xs[k].ndim != 3 or xs[k].shape[1:] != (t, d):
                got = tuple(xs[k].shape) if k in xs else "nothing"
                raise ValueError(f"VGMR: modality '{k}' should be (B, {t}, {d}), got {got}")
        return [torch.stack([xs[self.names[i]] for i in g.index]) for g in self.groups]

    def unstack(self, xs: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Per-group ``(M_g, B, T, D)`` tensors -> ``{modality: (B, T_m, D_m)}`` (views)."""
        return {self.names[i]: x[j] for g, x in zip(self.groups, xs) for j, i in enumerate(g.index)}

    def _modality_order(self, parts: List[torch.Tensor]) -> torch.Tensor:
        """Per-group ``(M_g, ...)`` tensors -> one ``(M, ...)`` tensor in the modality order."""
        out = torch.cat(parts) if len(parts) > 1 else parts[0]
        return out if self.regroup is None else out[self.regroup]

    def project(self, xs: List[torch.Tensor]) -> List[torch.Tensor]:
        """``P_m = phi_m(X_m)``: per group ``(M_g, B, T, D)`` -> ``(M_g, B, T, d)``."""
        out = []
        for g, w, x in zip(self.groups, self.blocks, xs):
            mg, b = x.shape[:2]
            out.append(torch.baddbmm(w.proj_bias.unsqueeze(1), x.reshape(mg, -1, g.d), w.proj_weight).view(
                mg, b, g.t, -1))
        return out

    def evidence(self, s: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross-modal evidence from summaries ``s`` ``(M, B, d)``; every part is ``(M, ., B, d)``."""
        others = s[self.others]  # (M, M-1, B, d): the non-target summaries, in a fixed order
        target = s.unsqueeze(1)  # (M, 1, B, d)
        return {"summary": target, "others": others, "agreement": target * others,
                "discrepancy": (target - others).abs(), "context": others.mean(dim=1, keepdim=True)}

    def interaction_input(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``z_m = [s_m; {s_n}; {a_mn}; {delta_mn}; c_m]`` with switched-off parts left out: ``(M, B, k)``."""
        use = {"summary": True, "others": True, "agreement": self.cfg.use_agreement,
               "discrepancy": self.cfg.use_discrepancy, "context": True}
        return torch.cat([parts[p].transpose(1, 2).flatten(2) for p in use if use[p]], dim=-1)

    def values(self, ps: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Global values ``(M, B)`` and channel values ``(M, B, d)`` from per-group projections."""
        pooled = self._modality_order([torch.cat([p.mean(2), p.amax(2)], dim=-1) for p in ps])  # (M, B, 2d)
        s = self.summary(pooled)  # (M, B, d)
        u = self.value_encoder(self.interaction_input(self.evidence(s)))  # (M, B, d)
        v = torch.sigmoid(self.value_head(u))  # (M, B, 1 + d)
        return v[..., 0], v[..., 1:]

    def gate(self, xs: List[torch.Tensor], ps: List[torch.Tensor], v_g: torch.Tensor,
             v_c: torch.Tensor) -> List[torch.Tensor]:
        """``G = sigmoid(A(X) + B(P) + C(v_g - 1/2) + D(v_c - 1/2))``: per group ``(M_g, B, T, D)``.

        Values with ``c`` times the rows of ``X`` (stacked variants, ``fusionlab.signals``) give ``c B``
        rows; ``A(X) + B(P)`` is computed once for the ``B`` rows and repeated."""
        out = []
        for a, v in zip(self.gate_inputs(xs, ps), self.gate_values(v_g, v_c)):
            if v is None:
                out.append(torch.sigmoid(repeat_rows(a, v_g.shape[1], 1)))
            else:  # (M_g, c, B, 1, D) + (M_g, 1, B, T, D): the variants broadcast, A(X) + B(P) is not copied
                mg, b = a.shape[:2]
                out.append(torch.sigmoid(a.unsqueeze(1) + v.view(mg, -1, b, 1, v.shape[-1])).flatten(1, 2))
        return out

    def gate_inputs(self, xs: List[torch.Tensor], ps: List[torch.Tensor]) -> List[torch.Tensor]:
        """``A(X) + B(P)`` per group ``(M_g, B, T, D)``: the gate logits' input terms."""
        out = []
        for g, w, x, p in zip(self.groups, self.blocks, xs, ps):
            mg, b = x.shape[:2]
            logits = torch.baddbmm(w.gate_x_bias.unsqueeze(1), x.reshape(mg, -1, g.d), w.gate_x_weight)
            out.append(torch.baddbmm(logits, p.reshape(mg, -1, p.shape[-1]), w.gate_p_weight).view(mg, b, g.t, g.d))
        return out

    def gate_values(self, v_g: torch.Tensor, v_c: torch.Tensor) -> List[Optional[torch.Tensor]]:
        """``C(v_g - 1/2) + D(v_c - 1/2)`` per group ``(M_g, B, D)`` (None when both are switched off)."""
        if not (self.cfg.use_global_value or self.cfg.use_channel_value):
            return [None] * len(self.groups)
        vs = torch.cat(([v_g.unsqueeze(-1) - 0.5] if self.cfg.use_global_value else []) +
                       ([v_c - 0.5] if self.cfg.use_channel_value else []), dim=-1)
        return [torch.bmm(g.take(vs), w.gate_v_weight) for g, w in zip(self.groups, self.blocks)]

    def amplify(self, g: torch.Tensor) -> torch.Tensor:
        """``G_amp = 1 + lambda (2G - 1)``: exactly 1 at ``lambda = 0``, in ``(1 - lambda, 1 + lambda)``."""
        return 1 + self.cfg.lambda_amp * (2 * g - 1)

    def effective_gate(self, g: torch.Tensor) -> torch.Tensor:
        """``G_eff = rho + (1 - rho) G_amp`` [choice], i.e. ``a + b G`` with ``a = rho + (1 - rho)(1 - lambda)``
        and ``b = 2 lambda (1 - rho)``: one elementwise pass over the gate instead of five (exactly 1 at
        ``lambda = 0``)."""
        lam, rho = self.cfg.lambda_amp, self.cfg.rho
        return torch.add(torch.full((), rho + (1 - rho) * (1 - lam), dtype=g.dtype), g, alpha=2 * lam * (1 - rho))

    def norm(self, y: torch.Tensor, w: GroupWeights) -> torch.Tensor:
        """LayerNorm over each modality's channels (biased variance, eps 1e-5, as ``nn.LayerNorm``), with its
        own affine: ``(M_g, B, T, D)``. Written out: over a dozen channels per row, torch's fused kernel took
        twice as long as these four vectorised passes (2-3.6 ms against 1.7 ms on 1.2 M values)."""
        shape = (len(w.norm_weight), 1, 1, y.shape[-1])
        centred = y - y.mean(-1, keepdim=True)
        normed = centred * torch.rsqrt(centred.square().mean(-1, keepdim=True) + 1e-5)
        return normed * w.norm_weight.view(shape) + w.norm_bias.view(shape)

    def refine(self, g_eff: torch.Tensor, x: torch.Tensor, w: GroupWeights) -> torch.Tensor:
        """``X~`` before dropout, by ``norm``: ``LN(G_eff X)``, ``G_eff LN(X)`` or ``G_eff X``. A gate with
        ``c`` times the rows of ``x`` (stacked variants) multiplies ``x`` broadcast, not repeated."""
        mg, b = x.shape[:2]

        def gated(t: torch.Tensor) -> torch.Tensor:
            if g_eff.shape[1] == b:
                return g_eff * t
            return (g_eff.view(mg, -1, *t.shape[1:]) * t.unsqueeze(1)).flatten(1, 2)

        if self.cfg.norm == "post-gate":
            return self.norm(gated(x), w)
        if self.cfg.norm == "pre-gate":
            return gated(self.norm(x, w))
        return gated(x)

    def signals(self) -> Dict[str, Signal]:
        """``v_g`` ``(B,)``, ``v_c`` ``(B, d)`` and ``G_eff`` ``(B, T, D)`` of every modality, by extras key."""
        return {key(part, k): Signal(part, k) for part in SIGNALS for k in self.names}

    def _tap(self, replace: Optional[Replace], parts: Mapping[str, Sequence[Tuple[Tuple[int, ...], torch.Tensor]]]
             ) -> Dict[str, List[torch.Tensor]]:
        """``parts``: per part, ``(modality positions, (M_g, B, ...) tensor)`` pairs. Every modality's slice
        goes through :func:`fusionlab.signals.tap`; all of them come back repeated to one row count."""
        names = [key(part, self.names[i]) for part, pairs in parts.items() for index, _ in pairs for i in index]
        slices = [s for pairs in parts.values() for _, t in pairs for s in t.unbind(0)]
        tapped = iter(tap_rows(replace, names, slices))
        return {part: [torch.stack([next(tapped) for _ in index]) for index, _ in pairs] for part, pairs in parts.items()}

    def forward(self, xs: Mapping[str, torch.Tensor], replace: Optional[Replace] = None):
        x = self.stack(xs)  # per group (M_g, B, T, D)
        p = self.project(x)
        v_g, v_c = self.values(p)
        if replace and any(key(part, k) in replace for part in ("v_g", "v_c") for k in self.names):
            every = tuple(range(len(self.names)))
            tapped = self._tap(replace, {"v_g": [(every, v_g)], "v_c": [(every, v_c)]})
            (v_g,), (v_c,) = tapped["v_g"], tapped["v_c"]
        g = self.gate(x, p, v_g, v_c)
        g_eff = [self.effective_gate(gi) for gi in g]
        if replace and any(key("G_eff", k) in replace for k in self.names):
            g_eff = self._tap(replace, {"G_eff": [(grp.index, ge) for grp, ge in zip(self.groups, g_eff)]})["G_eff"]
        out = [self.drop(self.refine(ge, xi, w)) for w, ge, xi in zip(self.blocks, g_eff, x)]
        parts = {"G": self.unstack(g), "G_eff": self.unstack(g_eff), "X_refined": self.unstack(out)}
        refined, extras = dict(xs), {}
        for i, k in enumerate(self.names):
            refined[k] = parts["X_refined"][k]
            extras.update({key("v_g", k): v_g[i], key("v_c", k): v_c[i],
                           **{key(part, k): v[k] for part, v in parts.items()}})
        return refined, extras

    @torch.no_grad()
    def loss_increase(self, model: nn.Module, xs: Mapping[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """``Delta_{m,i} = l_i(m dropped) - l_i(all)`` per sample and modality, ``(n, M)``, in eval mode.

        With ``value_rows = n > 0``, on the batch's first ``n`` rows only (batches are shuffled,
        so a random subset): the pass costs ``M + 1`` forwards of ``n`` rows, not of the batch.
        """
        n = self.cfg.value_rows
        if 0 < n < len(y):
            xs, y = {k: v[:n] for k, v in xs.items()}, y[:n]
        m, b = len(self.names), len(y)
        was_training = model.training
        model.eval()
        try:
            logits = model(dropped_copies(xs, self.names)).logits
        finally:
            model.train(was_training)
        losses = F.cross_entropy(logits, y.repeat(m + 1), reduction="none").view(m + 1, b)
        return (losses[1:] - losses[0]).T

    def value_target(self, delta: torch.Tensor) -> torch.Tensor:
        """``sigmoid(Delta / tau)``, ``(n, M)``: per sample, or the batch mean broadcast (``value_target``)."""
        if self.cfg.value_target == "batch":
            delta = delta.mean(0, keepdim=True).expand_as(delta)
        return torch.sigmoid(delta / self.cfg.tau)

    def extra_loss(self, model: nn.Module, xs, y, output) -> torch.Tensor:
        """``beta * L_value + gamma * L_reg`` (§3.8)."""
        v_g = torch.stack([output.extras[key("v_g", k)] for k in self.names], dim=1)  # (B, M)
        v_c = torch.stack([output.extras[key("v_c", k)] for k in self.names], dim=1)  # (B, M, d)
        target = self.value_target(self.loss_increase(model, xs, y))  # (n, M), n <= B
        n = len(target)
        if self.cfg.value_target == "batch":  # the earlier reading: batch means against one target
            l_value = ((v_g[:n].mean(0) - target[0]) ** 2 + (v_c[:n].mean(-1).mean(0) - target[0]) ** 2).sum()
        else:
            l_value = ((v_g[:n] - target) ** 2 + (v_c[:n].mean(-1) - target) ** 2).sum(1).mean()
        if len(y) > 1:
            l_reg = F.relu(self.cfg.kappa - v_g.std(0)).sum()
            if self.cfg.regulariser == "both":
                l_reg = l_reg + F.relu(self.cfg.kappa - v_c.std(0)).mean(-1).sum()
        else:
            l_reg = v_g.sum() * 0.0
        return self.cfg.beta * l_value + self.cfg.gamma * l_reg


def dropped_copies(xs: Mapping[str, torch.Tensor], names: List[str]) -> Dict[str, torch.Tensor]:
    """The batch ``M + 1`` times over, ``(B (M+1), ...)`` per modality: block 0 intact, block
    ``i + 1`` with modality ``names[i]`` dropped (all zeros), as the value target's pass runs it."""
    m, b = len(names), len(next(iter(xs.values())))
    stacked = {}
    for i, k in enumerate(names):
        rep = xs[k].repeat(m + 1, *([1] * (xs[k].ndim - 1)))
        rep[(i + 1) * b:(i + 2) * b] = 0.0
        stacked[k] = rep
    return stacked


def stack_part(extras: Mapping[str, torch.Tensor], part: str, names: List[str]) -> Dict[str, torch.Tensor]:
    """``{modality: tensor}`` of one part (``v_g``, ``v_c``, ``G``, ``G_eff``, ``X_refined``)."""
    if part not in PARTS:
        raise ValueError(f"unknown VGMR part '{part}'; choose one of {PARTS}")
    missing = [k for k in names if key(part, k) not in extras]
    if missing:
        raise ValueError(f"the model output has no VGMR '{part}' for {missing}; is the refiner 'vgmr'?")
    return {k: extras[key(part, k)] for k in names}
