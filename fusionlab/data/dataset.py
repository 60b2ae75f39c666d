"""The multimodal dataset container, seeded stratified splits and train-only scaling.

docs/methods.md, corruptions and robustness: every statistic (standardisation, noise scale) is fitted on the train
split only and applied unchanged to validation and test.
"""
from __future__ import annotations

import warnings

from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ..rng import sub_seed
from .lazy import MappedRows, as_rows, chunked_moments, scan

MIN_PER_CLASS = 3  # one sample for each of train / validation / test


@dataclass
class RawView:
    """A modality's raw signal (a recording ``(N, L)``, or pixels in [0, 1] ``(N, H, W)``) and the function that
    makes its features from it (``(n, ...) -> (n, T, D)``, on the scale the dataset stores): corruptions that act
    where a person perceives them (``noise.SIGNAL_CORRUPTIONS``, by ``kind``) corrupt the signal and recompute the
    features. ``unit`` is the sd of the signal's train values (the unit of gaussian noise on pixels)."""

    signal: np.ndarray
    features: Callable[[np.ndarray], np.ndarray]
    kind: str = "audio"  # "audio" or "image"
    unit: float = 1.0


class RawInputs(dict):
    """A split's inputs ``{modality: (N, T, D)}`` that also carry, for the modalities with a raw signal, its rows
    and how to turn them into these inputs again (``raw``): what ``noise.corrupt_modalities`` needs to corrupt the
    signal. Any other use sees a plain dict (a subset of rows, or a copy, drops ``raw``)."""

    def __init__(self, xs: Mapping[str, torch.Tensor], raw: Mapping[str, "BoundRaw"]):
        super().__init__(xs)
        self.raw = dict(raw)


@dataclass
class BoundRaw(RawView):
    """One split's rows of a ``RawView``, with the train statistics that scale its features as the split's are."""

    stats: Optional["ModalityStats"] = None
    scale: bool = True

    def inputs(self, signal: np.ndarray) -> torch.Tensor:
        """The model's inputs ``(n, T, D)`` for ``signal`` (this split's rows, corrupted or not)."""
        feats = self.features(np.asarray(signal, dtype=np.float32))
        return standardise(feats, self.stats) if self.scale else as_stored(feats, self.stats)


@dataclass
class MultimodalDataset:
    """Named modalities as float32 arrays ``(N, T, D)`` with integer labels.

    ``extras`` holds per-sample ground truth a loader knows (e.g. the severity of
    the corruption applied to each modality, ``(N, M)``).
    """

    modalities: Dict[str, np.ndarray]
    labels: np.ndarray
    class_names: List[str]
    name: str = "dataset"
    extras: Dict[str, np.ndarray] = field(default_factory=dict)
    split: Optional[np.ndarray] = None  # the data's own assignment per row: 0 train, 1 validation, 2 test (split_codes)
    raw: Dict[str, RawView] = field(default_factory=dict)  # modality -> its raw signal (av-digits' recordings)
    # modalities whose features share one unit (an image's pixels): standardised with one mean and sd over all their
    # features, not one per feature (a nearly blank edge column would otherwise blow pixel noise up 60-fold)
    pooled_scale: Tuple[str, ...] = ()
    # modalities left on disk (np.memmap, any numeric dtype): checked in chunks here, and read a batch at a time by
    # the splits ``prepare`` makes (``data.lazy``); a folder too large for the memory (``folder.load_folder``)
    lazy: bool = False

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if self.split is not None:
            self.split = np.asarray(self.split)
            if self.split.shape != labels.shape or not np.isin(self.split, SPLIT_CODES).all():
                raise ValueError(f"the split must give each of the {len(labels)} rows 0, 1 or 2 (train, validation, "
                                 "test)")
        if labels.ndim != 1:
            raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        self.labels = labels.astype(np.int64)
        if not self.modalities:
            raise ValueError("the dataset has no modality")
        for k, r in self.raw.items():
            if k not in self.modalities or len(r.signal) != len(labels):
                raise ValueError(f"the raw signal of '{k}' needs one row per sample of a modality of the dataset")
        fixed = {}
        for name, arr in self.modalities.items():
            arr = arr if self.lazy else np.asarray(arr)
            if not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"modality '{name}' is not numeric (dtype {arr.dtype})")
            if arr.ndim == 2:
                arr = arr[:, None, :]  # (N, D) -> (N, 1, D)
            if arr.ndim != 3:
                raise ValueError(
                    f"modality '{name}' must have shape (N, D) or (N, T, D), got {arr.shape}"
                )
            if arr.shape[0] != len(labels):
                raise ValueError(
                    f"modality '{name}' has {arr.shape[0]} rows, labels have {len(labels)}"
                )
            if arr.shape[1] == 0 or arr.shape[2] == 0:
                raise ValueError(f"modality '{name}' is empty: shape {arr.shape}")
            absent = scan(name, arr)  # a row of all-NaN: the modality is missing there
            if absent.any():
                given = self.extras.get(f"present_{name}")
                present = ~absent if given is None else (np.asarray(given, bool) & ~absent)
                self.extras = {**self.extras, f"present_{name}": present}
            fixed[name] = arr if self.lazy else arr.astype(np.float32, copy=False)
        self.modalities = fixed
        flags = [self.extras[f"present_{k}"] for k in fixed if f"present_{k}" in self.extras]
        if len(flags) == len(fixed):
            empty = np.nonzero(~np.any(flags, axis=0))[0]
            if len(empty):
                raise ValueError(f"{len(empty)} row(s) have every modality missing (first rows: {empty[:5].tolist()})")
        present = np.unique(self.labels)
        if len(present) < 2:
            raise ValueError(f"labels contain a single class ({present.tolist()}); need at least 2")
        if self.labels.min() < 0 or self.labels.max() >= len(self.class_names):
            raise ValueError(
                f"labels range {self.labels.min()}..{self.labels.max()} does not fit "
                f"{len(self.class_names)} class names"
            )

    @property
    def n_samples(self) -> int:
        return len(self.labels)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def modality_names(self) -> List[str]:
        return list(self.modalities)

    def shapes(self) -> Dict[str, tuple]:
        """``{name: (T, D)}`` for every modality."""
        return {k: tuple(v.shape[1:]) for k, v in self.modalities.items()}

    def select(self, views: Sequence[str]) -> "MultimodalDataset":
        missing = [v for v in views if v not in self.modalities]
        if missing:
            raise ValueError(
                f"unknown view(s) {missing}; this dataset has {self.modality_names}"
            )
        if not views:
            raise ValueError("select at least one view")
        return MultimodalDataset(
            {v: self.modalities[v] for v in views}, self.labels, self.class_names,
            self.name, dict(self.extras), self.split, {v: r for v, r in self.raw.items() if v in views},
            tuple(v for v in self.pooled_scale if v in views), self.lazy,
        )

    def subset(self, index: np.ndarray) -> "MultimodalDataset":
        return MultimodalDataset(
            {k: v[index] for k, v in self.modalities.items()}, self.labels[index],
            self.class_names, self.name, {k: v[index] for k, v in self.extras.items()},
            None if self.split is None else self.split[index],
            {k: replace(r, signal=r.signal[index]) for k, r in self.raw.items()}, self.pooled_scale,
        )  # (a subset of a dataset on disk is read into memory)


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of a seeded, stratified train / validation / test split."""

    val_fraction: float = 0.15
    test_fraction: float = 0.2
    seed: int = 0
    train_size: Optional[int] = None  # cap on training rows (stratified subsample)


def check_class_counts(labels: np.ndarray, class_names: Sequence[str]) -> None:
    counts = np.bincount(labels, minlength=len(class_names))
    small = [(class_names[c], int(n)) for c, n in enumerate(counts) if 0 < n < MIN_PER_CLASS]
    if small:
        desc = ", ".join(f"'{c}' has {n}" for c, n in small)
        raise ValueError(
            f"too few samples per class for a train/validation/test split: {desc} "
            f"(need at least {MIN_PER_CLASS})"
        )


SPLIT_CODES = (0, 1, 2)
SPLIT_WORDS = {"train": 0, "training": 0, "valid": 1, "val": 1, "validation": 1, "dev": 1, "test": 2}


def split_codes(raw: np.ndarray) -> np.ndarray:
    """A data file's split column or array as codes: ``train``/``valid``/``test`` (also ``val``, ``validation``,
    ``dev``, ``training``; any case) or 0/1/2."""
    raw = np.asarray(raw)
    if raw.dtype.kind in "iu" or (raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all()):
        codes = raw.astype(np.int64)
        bad = codes[~np.isin(codes, SPLIT_CODES)]
        if len(bad):
            raise ValueError(f"the split holds {int(bad[0])}; expected 0, 1, 2 or train, valid, test")
        return codes
    words = [str(v).strip().lower() for v in raw]
    bad = [w for w in words if w not in SPLIT_WORDS]
    if bad:
        raise ValueError(f"the split holds '{bad[0]}'; expected train, valid or test (or 0, 1, 2)")
    return np.array([SPLIT_WORDS[w] for w in words], dtype=np.int64)


def given_split(labels: np.ndarray, split: np.ndarray, cfg: SplitConfig, class_names: Sequence[str]) -> Dict[str, np.ndarray]:
    """The data's own train / validation / test rows. Without validation rows the lab draws them from the train
    rows (stratified, ``cfg.val_fraction`` of them, with ``cfg.seed``); ``cfg.train_size`` caps the train rows."""
    idx = np.arange(len(labels))
    parts = {name: idx[split == code] for name, code in (("train", 0), ("val", 1), ("test", 2))}
    for name, word in (("train", "train"), ("test", "test")):
        if not len(parts[name]):
            raise ValueError(f"the data's split has no {word} rows")
    check_class_counts(labels[parts["train"]], list(class_names) or [str(c) for c in range(int(labels.max()) + 1)])
    if not len(parts["val"]):
        n_val = max(int(round(cfg.val_fraction * len(parts["train"]))), len(np.unique(labels)))
        parts["train"], parts["val"] = train_test_split(parts["train"], test_size=n_val, stratify=labels[parts["train"]],
                                                        random_state=sub_seed(cfg.seed, 1))
    if cfg.train_size is not None and cfg.train_size < len(parts["train"]):
        parts["train"], _ = train_test_split(parts["train"], train_size=cfg.train_size,
                                             stratify=labels[parts["train"]], random_state=sub_seed(cfg.seed, 2))
    return {k: np.sort(v) for k, v in parts.items()}


def split_indices(labels: np.ndarray, cfg: SplitConfig, class_names: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """Seeded stratified split; returns ``{'train','val','test'}`` index arrays."""
    if not 0 < cfg.test_fraction < 1 or not 0 < cfg.val_fraction < 1 or cfg.test_fraction + cfg.val_fraction >= 1:
        raise ValueError(
            f"split fractions must be in (0, 1) and sum below 1, got val={cfg.val_fraction}, test={cfg.test_fraction}"
        )
    names = list(class_names) or [str(c) for c in range(int(labels.max()) + 1)]
    check_class_counts(labels, names)
    idx = np.arange(len(labels))
    n_classes = len(np.unique(labels))
    n_test = max(int(round(cfg.test_fraction * len(labels))), n_classes)
    n_val = max(int(round(cfg.val_fraction * len(labels))), n_classes)
    if len(labels) - n_test - n_val < n_classes:
        raise ValueError(
            f"{len(labels)} samples are too few to split into train/validation/test "
            f"with {n_classes} classes"
        )
    rest, test = train_test_split(idx, test_size=n_test, stratify=labels, random_state=sub_seed(cfg.seed, 0))
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=sub_seed(cfg.seed, 1))
    if cfg.train_size is not None and cfg.train_size < len(train):
        if cfg.train_size < n_classes:
            raise ValueError(f"train_size {cfg.train_size} is smaller than the {n_classes} classes")
        train, _ = train_test_split(train, train_size=cfg.train_size, stratify=labels[train], random_state=sub_seed(cfg.seed, 2))
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


@dataclass
class ModalityStats:
    """Per-feature train statistics of one modality (over samples and timesteps)."""

    mean: torch.Tensor  # (D,)
    std: torch.Tensor  # (D,)
    constant: bool = False  # every feature constant on the train rows (its sd was left at 1)


@dataclass
class Split:
    """One split as tensors: ``xs[name]`` is ``(N, T, D)``; ``y`` is ``(N,)``."""

    xs: Dict[str, torch.Tensor]
    y: torch.Tensor
    index: np.ndarray
    extras: Dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, rows) -> "Split":
        rows = torch.as_tensor(rows, dtype=torch.long)
        return Split({k: v.take(rows.numpy()) if isinstance(v, MappedRows) else v[rows] for k, v in self.xs.items()},
                     self.y[rows],
                     self.index[rows.numpy()], {k: v[rows.numpy()] for k, v in self.extras.items()})


@dataclass
class PreparedData:
    """Standardised splits plus the train statistics that produced them.

    After standardisation every modality has train mean 0 and sd 1, so ``stats``
    (kept for the corruption functions) are zeros and ones; ``raw_stats`` keeps the
    original scale for display.
    """

    train: Split
    val: Split
    test: Split
    stats: Dict[str, ModalityStats]
    raw_stats: Dict[str, ModalityStats]
    class_names: List[str]
    name: str

    @property
    def modality_names(self) -> List[str]:
        return list(self.train.xs)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def shapes(self) -> Dict[str, tuple]:
        return {k: tuple(v.shape[1:]) for k, v in self.train.xs.items()}


def fit_stats(x: np.ndarray, pooled: bool = False) -> ModalityStats:
    """Mean and sd per feature over samples and timesteps of ``x`` ``(N, T, D)``, over the rows where the
    modality is present (a missing row is all NaN); ``pooled``: one mean and sd over all features (repeated per
    feature), for features that share one unit."""
    flat = x.reshape(-1, x.shape[-1])  # (N*T, D)
    here = ~np.isnan(flat).all(axis=1)
    if not here.any():
        raise ValueError("a modality is missing on every train row; its scale cannot be fitted")
    axis = None if pooled else 0
    mean = np.array(np.broadcast_to(flat[here].mean(axis=axis), flat.shape[1:]))
    std = np.array(np.broadcast_to(flat[here].std(axis=axis), flat.shape[1:]))
    return _stats(mean, std)


def _stats(mean: np.ndarray, std: np.ndarray) -> ModalityStats:
    constant = bool((std < 1e-8).all())
    std = np.where(std < 1e-8, 1.0, std)  # constant features: leave their scale alone
    return ModalityStats(torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32),
                         constant)


def fit_all(ds: MultimodalDataset, rows: np.ndarray) -> Dict[str, ModalityStats]:
    """Every modality's train statistics on ``rows`` (pooled where the dataset says its features share a unit); a
    dataset on disk in chunks of rows."""
    if ds.lazy:
        return {k: _stats(*chunked_moments(v, rows, pooled=k in ds.pooled_scale)) for k, v in ds.modalities.items()}
    return {k: fit_stats(v[rows], pooled=k in ds.pooled_scale) for k, v in ds.modalities.items()}


class DataWarning(UserWarning):
    """Data the lab can use but a user should know about (the CLI prints it as one line)."""


def check_constant(raw: Dict[str, "ModalityStats"]) -> None:
    """Refuse data whose every modality is constant on the train rows (a model can only learn the class
    frequencies: it would train to chance without a word); warn about a single constant modality."""
    flat = [k for k, st in raw.items() if st.constant]
    if flat and len(flat) == len(raw):
        raise ValueError(f"every modality ({', '.join(flat)}) is constant on the train rows: there is nothing to "
                         "learn from (check the file's columns)")
    for k in flat:
        warnings.warn(f"modality '{k}' is constant on the train rows: it carries no information", DataWarning,
                      stacklevel=3)


def standardise(x: np.ndarray, stats: ModalityStats) -> torch.Tensor:
    """``(x - mean) / sd`` with train statistics; a missing (all-NaN) row becomes 0, the train mean (as the
    ``drop`` corruption leaves it; its ``present_<m>`` flag says it is missing)."""
    return torch.nan_to_num((torch.as_tensor(x) - stats.mean) / stats.std, nan=0.0)


def split_of(ds: MultimodalDataset, rows: np.ndarray, raw: Dict[str, ModalityStats]) -> Split:
    """The standardised rows ``rows`` of ``ds`` with their labels and extras."""
    return rows_split(ds, rows, {k: standardise(v[rows], raw[k]) for k, v in ds.modalities.items()})


def rows_split(ds: MultimodalDataset, rows: np.ndarray, xs) -> Split:
    """The split of ``ds``'s rows ``rows`` whose inputs are ``xs``: their labels and extras."""
    return Split(xs, torch.as_tensor(ds.labels[rows]), rows, {k: e[rows] for k, e in ds.extras.items()})


def unit_stats(raw: Dict[str, ModalityStats]) -> Dict[str, ModalityStats]:
    """The statistics of standardised data (zeros and ones), what the corruptions are given."""
    return {k: ModalityStats(torch.zeros_like(s.mean), torch.ones_like(s.std), s.constant) for k, s in raw.items()}


def as_stored(x: np.ndarray, stats: ModalityStats) -> torch.Tensor:
    """``x`` unscaled, as a float32 tensor; a missing (all-NaN) row becomes the train mean (what ``drop`` puts
    there), as ``standardise`` does on its scale."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    missing = torch.isnan(t).all(dim=-1, keepdim=True).all(dim=-2, keepdim=True)
    return torch.where(missing, stats.mean.expand_as(t), t)


def prepare(ds: MultimodalDataset, cfg: SplitConfig = SplitConfig(), scale: bool = True) -> PreparedData:
    """Split ``ds`` and standardise every modality with train-split statistics; with ``scale=False`` the features
    stay as stored (a user's trained model expects them so) and the corruptions get the train statistics of that
    scale."""
    parts = (split_indices(ds.labels, cfg, ds.class_names) if ds.split is None
             else given_split(ds.labels, ds.split, cfg, ds.class_names))
    raw = fit_all(ds, parts["train"])
    check_constant(raw)
    if ds.lazy:
        splits = [rows_split(ds, parts[s], {k: MappedRows(as_rows(v), parts[s], raw[k], scaled=scale)
                                            for k, v in ds.modalities.items()}) for s in ("train", "val", "test")]
    elif not scale:
        splits = [rows_split(ds, parts[s], {k: as_stored(v[parts[s]], raw[k]) for k, v in ds.modalities.items()})
                  for s in ("train", "val", "test")]
    else:
        splits = [split_of(ds, parts[s], raw) for s in ("train", "val", "test")]
    for sp in splits:  # the modalities with a raw signal: a corruption of the signal recomputes their inputs
        if ds.raw:
            sp.xs = RawInputs(sp.xs, {k: BoundRaw(**vars(replace(v, signal=v.signal[sp.index])), stats=raw[k], scale=scale)
                                      for k, v in ds.raw.items()})
    return PreparedData(*splits, unit_stats(raw) if scale else raw, raw, list(ds.class_names), ds.name)
