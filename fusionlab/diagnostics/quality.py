"""Per-sample quality (reliability) scores ``Q_m in [0, 1]`` (docs/methods.md, reliability permutation test, the reliability paper).

Three families, none of which sees a test label:

* ``pca-recon`` — signal-derived and label-free: reconstruction error of ``x_m`` under a
  PCA fitted on the *clean* train rows (enough components for ``pca_variance`` of the
  variance, at most ``D - 1``; out-of-fold for the train rows themselves); low error
  means high quality.
* ``max-prob`` and ``energy`` — confidence of the expert: ``max_c p_m(c | x)`` and
  ``log sum_c exp(logit_c)``.
* ``correctness`` — a learned correctness predictor per modality: a logistic regression
  on [max prob, margin, entropy, energy, PCA error] fitted on train rows with target
  ``1[expert m correct]`` on the experts' *out-of-fold* train outputs; its own train
  outputs are out-of-fold too, so neither it nor the router is trivially optimistic.

Each is scaled per modality by train quantiles (``q05 -> 0``, ``q95 -> 1``, clipped).

Two **positive controls** use test correctness on purpose and are labelled so
(``control=True``; names ``control-corruption`` and ``control-aligned``):

* corruption control (rate ``k``): ``c_i ~ Bernoulli(k)``; where ``c_i = 1`` one expert
  (**[choice]** by default the one most accurate out-of-fold on train) is made confidently
  wrong (logit 10 on a random wrong class) and its ``Q = 1 - c_i``; the others ``Q = 1``;
* correctness-aligned (fidelity ``f``): ``Q_m = f 1[expert m correct] + (1 - f) u``,
  ``u ~ U(0, 1)`` (**[choice]**: a convex mix, random at 0 and perfect at 1).

Controls are built on train rows (with train labels) as well, so the ``moe`` router can
be trained on them like on any other score.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
from scipy.special import logsumexp
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..registry import Registry
from ..experts import SPLITS, ExpertBank

QUALITY: Registry = Registry("quality score")
CONTROLS = ("control-corruption", "control-aligned")
WRONG_LOGIT = 10.0
PCA_FOLDS = 5  # out-of-fold PCA errors of the train rows


@dataclass(frozen=True)
class QualityConfig:
    pca_variance: float = 0.9
    fidelity: float = 1.0  # control-aligned
    rate: float = 0.3  # control-corruption
    control_modality: str = ""  # control-corruption; "" = the best expert
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("pca_variance", "fidelity", "rate"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 <= v <= 1):
                raise ValueError(f"{name} must lie in [0, 1], got {v}")


@dataclass
class Scored:
    """A score's ``q[split]`` ``(N, M)`` and the expert logits ``(N, M, C)`` the rules fuse."""

    name: str
    q: Dict[str, np.ndarray]
    logits: Dict[str, np.ndarray]
    control: bool = False
    present: Optional[Dict[str, np.ndarray]] = None  # split -> (N, M) bool availability; None: everywhere

    def mask(self, split: str) -> Optional[np.ndarray]:
        """The split's availability ``(N, M)``, or None when every modality is present everywhere."""
        if self.present is None or bool(np.all(self.present[split])):
            return None
        return self.present[split]


def quantile_scale(train: np.ndarray, values: np.ndarray, train_present: Optional[np.ndarray] = None) -> np.ndarray:
    """Per column: ``(v - q05) / (q95 - q05)`` with train quantiles (of the rows where the modality is
    present, when ``train_present`` is given), clipped to [0, 1]."""
    if train_present is None:
        lo, hi = np.quantile(train, 0.05, axis=0), np.quantile(train, 0.95, axis=0)
    else:
        cols = [train[train_present[:, j], j] for j in range(train.shape[1])]
        lo = np.array([np.quantile(c, 0.05) if len(c) else 0.0 for c in cols])
        hi = np.array([np.quantile(c, 0.95) if len(c) else 1.0 for c in cols])
    return np.clip((values - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)


def with_masks(bank: ExpertBank, name: str, q: Dict[str, np.ndarray], logits: Dict[str, np.ndarray],
               control: bool = False) -> Scored:
    """A ``Scored`` carrying the bank's availability, with ``Q = 0`` wherever a modality is missing."""
    if not bank.present:
        return Scored(name, q, logits, control)
    return Scored(name, {s: np.where(bank.mask(s), q[s], 0.0) for s in SPLITS}, logits, control,
                  {s: bank.mask(s) for s in SPLITS})


def _scaled(bank: ExpertBank, name: str, raw: Dict[str, np.ndarray]) -> Scored:
    train_present = bank.mask("train") if bank.present else None
    q = {s: quantile_scale(raw["train"], raw[s], train_present) for s in SPLITS}
    return with_masks(bank, name, q, dict(bank.logits))


def _fit_pca(x: np.ndarray, cfg: QualityConfig) -> PCA:
    """A PCA with enough components for ``cfg.pca_variance`` of the variance (at most ``D - 1``)."""
    full = PCA(random_state=cfg.seed).fit(x)
    n = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), cfg.pca_variance) + 1)
    return PCA(n_components=max(1, min(n, x.shape[1] - 1, len(x) - 1)), random_state=cfg.seed).fit(x)


def _recon_error(pca: PCA, x: np.ndarray) -> np.ndarray:
    return ((x - pca.inverse_transform(pca.transform(x))) ** 2).mean(axis=1)


def pca_errors(bank: ExpertBank, cfg: QualityConfig) -> Dict[str, np.ndarray]:
    """Reconstruction MSE per row and modality, ``(N, M)``, PCA fitted on clean train rows.

    Test rows use the PCA of all clean train rows. [choice] Train rows get out-of-fold
    errors (``PCA_FOLDS`` folds; each row's error under a PCA fitted without it), so the
    train errors that set the q05/q95 scaling and train the correctness predictor are
    not biased low against the test errors.
    """
    lacking = [k for k in bank.names if k not in bank.x["train"]]
    if lacking:
        raise ValueError(f"pca-recon reads each modality's features, and {lacking} have none here (your outputs "
                         "carry posteriors only); use user, max-prob or correctness")
    out = {s: np.zeros((len(bank.y[s]), len(bank.names))) for s in SPLITS}
    for j, k in enumerate(bank.names):
        here = {s: bank.mask(s)[:, j] for s in SPLITS}  # the rows where the modality is present
        xall, clean = bank.x["train"][k][here["train"]], bank.clean["train"][here["train"], j]
        if clean.sum() < 2 * PCA_FOLDS:
            raise ValueError(f"modality '{k}' has {int(clean.sum())} clean train rows; the PCA quality score "
                             f"needs at least {2 * PCA_FOLDS}")
        pca = _fit_pca(xall[clean], cfg)
        for s in SPLITS:
            if s != "train":
                out[s][here[s], j] = _recon_error(pca, bank.x[s][k][here[s]])
        train_err = np.zeros(len(xall))
        for rest, fold in KFold(PCA_FOLDS, shuffle=True, random_state=cfg.seed).split(xall):
            train_err[fold] = _recon_error(_fit_pca(xall[rest][clean[rest]], cfg), xall[fold])
        out["train"][here["train"], j] = train_err
    return out


@QUALITY.register("pca-recon", "label-free: low PCA reconstruction error (PCA of clean train rows)")
def pca_recon(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    err = pca_errors(bank, cfg)
    return _scaled(bank, "pca-recon", {s: -e for s, e in err.items()})


@QUALITY.register("max-prob", "confidence: the expert's largest probability")
def max_prob(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    return _scaled(bank, "max-prob", {s: bank.probs(s).max(-1) for s in SPLITS})


@QUALITY.register("energy", "confidence: log-sum-exp of the expert's logits")
def energy(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    if not has_features(bank):
        raise ValueError("energy is log Σ exp(logits), and your outputs give posteriors: log Σ p = 0 on every row, "
                         "so it carries no information (rounding would only add noise); use user, max-prob or "
                         "correctness")
    return _scaled(bank, "energy", {s: logsumexp(bank.logits[s], axis=-1) for s in SPLITS})


def _features(bank: ExpertBank, split: str, err: Optional[np.ndarray], j: int) -> np.ndarray:
    """The correctness predictor's inputs: max prob, margin, entropy, energy and (with features) PCA error."""
    p = np.sort(bank.probs(split)[:, j], axis=-1)  # (N, C) ascending
    ent = -(p * np.log(np.clip(p, 1e-12, 1))).sum(-1)
    cols = [p[:, -1], p[:, -1] - p[:, -2], ent, logsumexp(bank.logits[split][:, j], -1)]
    return np.stack(cols + ([err[:, j]] if err is not None else []), 1)


def has_features(bank: ExpertBank) -> bool:
    return all(k in bank.x["train"] for k in bank.names)


@QUALITY.register("correctness", "learned: P(expert correct) from confidence and PCA error, fit on train")
def correctness(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    if has_features(bank):
        err = pca_errors(bank, cfg)
    else:  # your outputs: posteriors only, so confidence features only
        err = {s: None for s in SPLITS}
    shape = {s: (len(bank.y[s]), len(bank.names)) for s in SPLITS}
    target = bank.correct("train")  # out-of-fold correctness on train rows
    raw = {s: np.zeros(shape[s]) for s in SPLITS}
    for j in range(len(bank.names)):
        tr, te = bank.mask("train")[:, j], bank.mask("test")[:, j]  # fitted and used where present
        f_tr, t = _features(bank, "train", err["train"], j)[tr], target[tr, j].astype(int)
        if t.min() == t.max() or min(np.bincount(t)) < 5:
            for s in SPLITS:  # the expert is (almost) always right or wrong: no signal
                raw[s][:, j] = t.mean()
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        cv = StratifiedKFold(5, shuffle=True, random_state=cfg.seed)
        raw["train"][tr, j] = cross_val_predict(model, f_tr, t, cv=cv, method="predict_proba")[:, 1]
        raw["test"][te, j] = model.fit(f_tr, t).predict_proba(_features(bank, "test", err["test"], j)[te])[:, 1]
    return _scaled(bank, "correctness", raw)


@QUALITY.register("user", "yours: the q__<m> columns given with your outputs, used as they are")
def user(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    if not bank.user_q:
        raise ValueError("the score 'user' is the Q given with your outputs (q__<m> columns or the authors' quality/ "
                         "files), and there is none here")
    return with_masks(bank, "user", {s: np.asarray(bank.user_q[s], float) for s in SPLITS}, dict(bank.logits))


def _uniform(shape, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=shape)


@QUALITY.register("control-aligned", "POSITIVE CONTROL: f * 1[expert correct] + (1 - f) * noise (uses labels)")
def control_aligned(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    if not 0 <= cfg.fidelity <= 1:
        raise ValueError(f"fidelity must lie in [0, 1], got {cfg.fidelity}")
    rng = np.random.default_rng(cfg.seed)
    q = {s: cfg.fidelity * bank.correct(s) + (1 - cfg.fidelity) * _uniform(bank.correct(s).shape, rng)
         for s in SPLITS}
    return with_masks(bank, "control-aligned", q, dict(bank.logits), control=True)


def control_target(bank: ExpertBank, cfg: QualityConfig) -> int:
    """Index of the expert the corruption control breaks."""
    if cfg.control_modality:
        if cfg.control_modality not in bank.names:
            raise ValueError(f"control modality '{cfg.control_modality}' is not one of {bank.names}")
        return bank.names.index(cfg.control_modality)
    return int(bank.correct("train").mean(0).argmax())


@QUALITY.register("control-corruption", "POSITIVE CONTROL: a fraction k of one expert made confidently wrong, Q = 0 there")
def control_corruption(bank: ExpertBank, cfg: QualityConfig) -> Scored:
    if not 0 <= cfg.rate <= 1:
        raise ValueError(f"corruption rate k must lie in [0, 1], got {cfg.rate}")
    rng, j = np.random.default_rng(cfg.seed), control_target(bank, cfg)
    q, logits = {}, {}
    for s in SPLITS:
        n, y = len(bank.y[s]), bank.y[s]
        c = (rng.random(n) < cfg.rate) & bank.mask(s)[:, j]  # only where the expert gives an output
        wrong = (y + rng.integers(1, bank.n_classes, size=n)) % bank.n_classes
        lg = bank.logits[s].copy()
        lg[c, j] = 0.0
        lg[c, j, wrong[c]] = WRONG_LOGIT
        qs = np.ones((n, len(bank.names)))
        qs[:, j] = 1.0 - c
        q[s], logits[s] = qs, lg
    return with_masks(bank, "control-corruption", q, logits, control=True)


def score(name: str, bank: ExpertBank, cfg: QualityConfig = QualityConfig()) -> Scored:
    """Compute the registered quality score ``name`` on the bank's train and test rows."""
    return QUALITY.create(name, bank, cfg)


GIVEN = ("user",)  # scores that only exist with your own outputs


def real_scores() -> list[str]:
    """The label-free scores the lab computes from features and experts (not the controls, not ``user``)."""
    return [n for n in QUALITY.names() if n not in CONTROLS and n not in GIVEN]
