"""VGMR — Value-Gated Modality Refiner (seed 003, "Before Fusion, Ask What to Keep"; METHODS.md §3).

Applied to every modality's *original* features before the backbone:

1. projection ``P_m = phi_m(X_m)`` ``(B, T_m, d)``;
2. summary ``s_m = psi_m([mean_t P_m ; max_t P_m])`` ``(B, d)``;
3. evidence for target ``m``: agreement ``a_mn = s_m * s_n``, discrepancy ``|s_m - s_n|``,
   context ``c_m = mean_{n != m} s_n``; ``z_m = [s_m; {s_n}; {a_mn}; {d_mn}; c_m]``;
4. values ``u_m = E_m(z_m)``, ``v_g = sigmoid(w^T u + b)``, ``v_c = sigmoid(W u + b')``;
5. gate ``G = sigmoid(A(X) + B(P) + C(v_g - 1/2) + D(v_c - 1/2))`` ``(B, T_m, D_m)``;
6. amplification ``G_amp = 1 + lambda (2G - 1)``;
7. residual retention ``G_eff = rho + (1 - rho) G_amp`` **[choice]**;
8. ``X~ = Dropout(LayerNorm(G_eff * X))``.

Loss (§3.8): ``beta * L_value + gamma * L_reg`` is added to the task loss by ``extra_loss``.
``Delta_m = L_task(m dropped) - L_task(all)`` per batch, without gradient, in eval mode
**[choice]** (both losses from one stacked forward, so dropout noise does not enter
``Delta``); target ``sigmoid(Delta_m / tau)`` **[choice]**; ``L_reg = sum_m relu(kappa -
sd_batch(v_g))`` **[choice]**. A dropped modality is all zeros, i.e. its train mean after
standardisation (the ``drop`` corruption).

Implementation: the parts whose sizes do not depend on ``D_m`` (summary MLP, value
encoder, value heads) keep modality-specific weights but run for all modalities in one
batched matmul (``StackedLinear``) to keep the overhead small. The ablation switches
(§4.3) remove a term from the gate (``use_global_value``, ``use_channel_value``) or from
``z_m`` (``use_agreement``, ``use_discrepancy``); ``ABLATIONS`` names the six rows.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict, List, Mapping, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import REFINERS

PREFIX = "vgmr"
PARTS = ("v_g", "v_c", "G", "G_eff", "X_refined")


@dataclass
class VGMRConfig:
    """Options of the refiner; ``asdict()`` is what ``ModelConfig.refiner_options`` holds."""

    d: int = 32  # shared latent size
    lambda_amp: float = 0.5  # amplification strength lambda
    rho: float = 0.2  # residual retention rho
    dropout: float = 0.1
    beta: float = 0.1  # weight of L_value
    gamma: float = 0.1  # weight of L_reg
    tau: float = 0.25  # temperature of the value target sigmoid(Delta / tau)
    kappa: float = 0.05  # minimum batch sd of v_g before L_reg penalises
    use_global_value: bool = True  # C_m(v_g - 1/2) in the gate
    use_channel_value: bool = True  # D_m(v_c - 1/2) in the gate
    use_agreement: bool = True  # {a_mn} in z_m
    use_discrepancy: bool = True  # {delta_mn} in z_m


ABLATIONS: Dict[str, Dict[str, bool]] = {
    "full VGMR": {},
    "w/o channel value": {"use_channel_value": False},
    "w/o global value": {"use_global_value": False},
    "w/o both values": {"use_global_value": False, "use_channel_value": False},
    "w/o agreement": {"use_agreement": False},
    "w/o discrepancy": {"use_discrepancy": False},
    "w/o agreement and discrepancy": {"use_agreement": False, "use_discrepancy": False},
}


def key(part: str, name: str) -> str:
    """Extras key of one part for one modality, e.g. ``vgmr/G_eff/pix``."""
    return f"{PREFIX}/{part}/{name}"


def make_config(options: Mapping) -> VGMRConfig:
    known = {f.name for f in fields(VGMRConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown VGMR option(s) {unknown}; known: {sorted(known)}")
    cfg = VGMRConfig(**options)
    if cfg.d < 1 or not 0 <= cfg.lambda_amp <= 1 or not 0 <= cfg.rho <= 1 or cfg.tau <= 0:
        raise ValueError(f"VGMR needs d >= 1, lambda in [0, 1], rho in [0, 1], tau > 0; got {cfg}")
    return cfg


class StackedLinear(nn.Module):
    """``M`` modality-specific linear maps applied in one batched matmul: ``(B, M, i) -> (B, M, o)``."""

    def __init__(self, m: int, d_in: int, d_out: int) -> None:
        super().__init__()
        bound = d_in ** -0.5
        self.weight = nn.Parameter(torch.empty(m, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(m, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bmi,mio->bmo", x, self.weight) + self.bias


class StackedMLP(nn.Sequential):
    """A 2-layer MLP per modality, batched over modalities."""

    def __init__(self, m: int, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__(StackedLinear(m, d_in, hidden), nn.ReLU(), StackedLinear(m, hidden, d_out))


@REFINERS.register("vgmr", "Value-Gated Modality Refiner (seed 003): value-conditioned gate on each input")
class VGMR(nn.Module):
    def __init__(self, shapes: Mapping[str, Tuple[int, int]], **options) -> None:
        super().__init__()
        self.cfg = cfg = make_config(options)
        self.names: List[str] = list(shapes)
        m, d = len(self.names), cfg.d
        if m < 2:
            raise ValueError(f"VGMR compares modalities with each other and needs at least 2; got {self.names}")
        self.shapes = {k: tuple(v) for k, v in shapes.items()}
        dims = {k: int(v[1]) for k, v in shapes.items()}
        self.register_buffer("others", torch.tensor([[n for n in range(m) if n != i] for i in range(m)]),
                             persistent=False)  # (M, M-1)
        self.proj = nn.ModuleDict({k: nn.Linear(dims[k], d) for k in self.names})  # phi_m
        self.summary = StackedMLP(m, 2 * d, d, d)  # psi_m
        self.value_encoder = StackedMLP(m, self.interaction_dim(), d, d)  # E_m
        self.value_head = StackedLinear(m, d, 1 + d)  # [w_m ; W_m]
        self.gate_x = nn.ModuleDict({k: nn.Linear(dims[k], dims[k]) for k in self.names})  # A_m
        self.gate_p = nn.ModuleDict({k: nn.Linear(d, dims[k], bias=False) for k in self.names})  # B_m
        n_value = int(cfg.use_global_value) + d * int(cfg.use_channel_value)
        self.gate_v = nn.ModuleDict({k: nn.Linear(n_value, dims[k], bias=False) for k in self.names}) \
            if n_value else None  # [C_m, D_m]
        self.norm = nn.ModuleDict({k: nn.LayerNorm(dims[k]) for k in self.names})
        self.drop = nn.Dropout(cfg.dropout)

    def interaction_dim(self) -> int:
        m, c = len(self.names), self.cfg
        return self.cfg.d * (2 + (m - 1) * (1 + int(c.use_agreement) + int(c.use_discrepancy)))

    def evidence(self, s: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross-modal evidence from summaries ``s`` ``(B, M, d)``; every part is ``(B, M, ., d)``."""
        others = s[:, self.others]  # (B, M, M-1, d): the non-target summaries, in a fixed order
        target = s.unsqueeze(2)  # (B, M, 1, d)
        return {"summary": target, "others": others, "agreement": target * others,
                "discrepancy": (target - others).abs(), "context": others.mean(dim=2, keepdim=True)}

    def interaction_input(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``z_m = [s_m; {s_n}; {a_mn}; {delta_mn}; c_m]`` with switched-off parts left out: ``(B, M, k)``."""
        use = {"summary": True, "others": True, "agreement": self.cfg.use_agreement,
               "discrepancy": self.cfg.use_discrepancy, "context": True}
        return torch.cat([parts[p].flatten(2) for p in use if use[p]], dim=-1)

    def gate(self, name: str, x: torch.Tensor, p: torch.Tensor, v_g: torch.Tensor, v_c: torch.Tensor) -> torch.Tensor:
        """``G = sigmoid(A(X) + B(P) + C(v_g - 1/2) + D(v_c - 1/2))``: ``(B, T, D)``."""
        logits = self.gate_x[name](x) + self.gate_p[name](p)  # (B, T, D)
        if self.gate_v is not None:
            vs = ([v_g.unsqueeze(-1) - 0.5] if self.cfg.use_global_value else []) + \
                 ([v_c - 0.5] if self.cfg.use_channel_value else [])
            logits = logits + self.gate_v[name](torch.cat(vs, dim=-1)).unsqueeze(1)  # (B, 1, D) over time
        return torch.sigmoid(logits)

    def amplify(self, g: torch.Tensor) -> torch.Tensor:
        """``G_amp = 1 + lambda (2G - 1)``: exactly 1 at ``lambda = 0``, in ``(1 - lambda, 1 + lambda)``."""
        return 1 + self.cfg.lambda_amp * (2 * g - 1)

    def effective_gate(self, g: torch.Tensor) -> torch.Tensor:
        """``G_eff = rho + (1 - rho) G_amp`` [choice]."""
        return self.cfg.rho + (1 - self.cfg.rho) * self.amplify(g)

    def values(self, ps: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Global values ``(B, M)`` and channel values ``(B, M, d)`` from projections ``(B, T_m, d)``."""
        pooled = torch.stack([torch.cat([p.mean(1), p.amax(1)], dim=-1) for p in ps], dim=1)  # (B, M, 2d)
        s = self.summary(pooled)  # (B, M, d)
        u = self.value_encoder(self.interaction_input(self.evidence(s)))  # (B, M, d)
        v = torch.sigmoid(self.value_head(u))  # (B, M, 1 + d)
        return v[..., 0], v[..., 1:]

    def forward(self, xs: Mapping[str, torch.Tensor]):
        for k in self.names:
            t, d = self.shapes[k]
            if k not in xs or xs[k].ndim != 3 or xs[k].shape[-1] != d:
                got = tuple(xs[k].shape) if k in xs else "nothing"
                raise ValueError(f"VGMR: modality '{k}' should be (B, T, {d}), got {got}")
        ps = [self.proj[k](xs[k]) for k in self.names]  # (B, T_m, d)
        v_g, v_c = self.values(ps)
        refined, extras = dict(xs), {}
        for i, k in enumerate(self.names):
            g = self.gate(k, xs[k], ps[i], v_g[:, i], v_c[:, i])
            g_eff = self.effective_gate(g)
            refined[k] = self.drop(self.norm[k](g_eff * xs[k]))
            extras.update({key("v_g", k): v_g[:, i], key("v_c", k): v_c[:, i], key("G", k): g,
                           key("G_eff", k): g_eff, key("X_refined", k): refined[k]})
        return refined, extras

    @torch.no_grad()
    def loss_increase(self, model: nn.Module, xs: Mapping[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """``Delta_m = L_task(m dropped) - L_task(all)`` for every modality, ``(M,)``, in eval mode."""
        m, b = len(self.names), len(y)
        stacked = {}
        for i, k in enumerate(self.names):
            rep = xs[k].repeat(m + 1, 1, 1)  # (B (M+1), T, D): block 0 intact, block i+1 drops modality i
            rep[(i + 1) * b:(i + 2) * b] = 0.0
            stacked[k] = rep
        was_training = model.training
        model.eval()
        try:
            logits = model(stacked).logits
        finally:
            model.train(was_training)
        losses = F.cross_entropy(logits, y.repeat(m + 1), reduction="none").view(m + 1, b).mean(1)
        return losses[1:] - losses[0]

    def extra_loss(self, model: nn.Module, xs, y, output) -> torch.Tensor:
        """``beta * L_value + gamma * L_reg`` (§3.8)."""
        v_g = torch.stack([output.extras[key("v_g", k)] for k in self.names], dim=1)  # (B, M)
        v_c = torch.stack([output.extras[key("v_c", k)].mean(-1) for k in self.names], dim=1)  # (B, M)
        target = torch.sigmoid(self.loss_increase(model, xs, y) / self.cfg.tau)  # (M,)
        l_value = ((v_g.mean(0) - target) ** 2 + (v_c.mean(0) - target) ** 2).sum()
        l_reg = F.relu(self.cfg.kappa - v_g.std(0)).sum() if len(y) > 1 else v_g.sum() * 0.0
        return self.cfg.beta * l_value + self.cfg.gamma * l_reg


def stack_part(extras: Mapping[str, torch.Tensor], part: str, names: List[str]) -> Dict[str, torch.Tensor]:
    """``{modality: tensor}`` of one part (``v_g``, ``v_c``, ``G``, ``G_eff``, ``X_refined``)."""
    if part not in PARTS:
        raise ValueError(f"unknown VGMR part '{part}'; choose one of {PARTS}")
    missing = [k for k in names if key(part, k) not in extras]
    if missing:
        raise ValueError(f"the model output has no VGMR '{part}' for {missing}; is the refiner 'vgmr'?")
    return {k: extras[key(part, k)] for k in names}
