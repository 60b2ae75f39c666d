"""Dataset specs: a registered dataset is its config dataclass, its loader and its info.

The config's fields carry their own documentation (``option(...)`` metadata: help text, CLI flag,
choices, range), so the page's widgets (``ui.forms``) and the CLI's arguments
(``commands._common``) are generated from the spec, and neither front end names a dataset.
``DataConfig(name, options, select)`` is what a study's config holds: which dataset, with which
options, and (for datasets whose options do not pick modalities) which modalities to keep.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from ..options import check_declared, controls, kind_of, option  # noqa: F401  (re-exported)
from ..registry import Registry
from .dataset import MultimodalDataset

DATASETS: Registry = Registry("dataset")


@dataclass(frozen=True)
class DatasetInfo:
    """What a front end can know before loading: modality shapes (when fixed by the config), classes, source."""

    modalities: Dict[str, Tuple[int, int]]
    n_classes: Optional[int]
    source: str
    images: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # modalities a page draws as a picture (rows, cols)


@dataclass(frozen=True)
class MachineSetting:
    """Something a dataset needs from the machine rather than from a run's config (a folder of recordings): the
    command line's ``flag`` and a served page's ``.streamlit/secrets.toml`` key ``secret`` both set the environment
    variable ``env`` for the process (the flag after ``check(value)``)."""

    flag: str
    env: str
    secret: str
    help: str
    check: Callable[[str], Any]
    metavar: str = "DIR"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    doc: str
    config: type
    loader: Callable[..., MultimodalDataset]
    info: Callable[[Any], DatasetInfo]
    upload: bool = False  # the page reads its input from an upload, not from the config
    available: Optional[Callable[[], bool]] = None  # whether a page may offer it here (None: always)
    settings: Tuple[MachineSetting, ...] = ()  # what it needs from the machine (command-line flags)

    def offered(self) -> bool:
        """Whether a page offers the dataset on this server (the command line takes every registered one)."""
        return self.available is None or bool(self.available())

    def load(self, cfg: Any = None, source: Any = None) -> MultimodalDataset:
        cfg = self.config() if cfg is None else cfg
        return self.loader(cfg, source) if self.upload else self.loader(cfg)


def register_dataset(name: str, doc: str, config: type, info: Callable[[Any], DatasetInfo], upload: bool = False,
                     available: Optional[Callable[[], bool]] = None, settings: Tuple[MachineSetting, ...] = ()):
    """Decorator: register ``loader(cfg)`` (or ``loader(cfg, source)`` for uploads) under ``name``; ``available()``
    says whether pages may offer it on this server (a dataset read from a folder the server was given)."""

    check_declared(config)

    def deco(loader: Callable[..., MultimodalDataset]):
        DATASETS.register(name, doc)(DatasetSpec(name, doc, config, loader, info, upload, available, tuple(settings)))
        return loader

    return deco


def spec(name: str) -> DatasetSpec:
    return DATASETS.get(name)


def datasets(accepts: Optional[Callable[[DatasetSpec], bool]] = None) -> Tuple[str, ...]:
    """The registered datasets a study takes, in registration order: every one its predicate ``accepts`` (all
    when None). A dataset registered in one file appears in every study whose predicate admits it."""
    return tuple(n for n in DATASETS.names() if accepts is None or accepts(spec(n)))


def can_give(n: int) -> Callable[[DatasetSpec], bool]:
    """A predicate: the dataset can give at least ``n`` modalities (its default options do, or its modalities
    come from a file and are not known before it is read)."""

    def accepts(s: DatasetSpec) -> bool:
        try:
            found = len(s.info(s.config()).modalities)
        except (TypeError, ValueError):
            return True
        return found == 0 or found >= n

    return accepts


def make_options(name: str, **values) -> Any:
    """The dataset's config from keyword values (lists become tuples); unknown names are an error."""
    cls = spec(name).config
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"dataset '{name}' has no option(s) {unknown}; it takes {sorted(known)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, with which options, keeping which modalities (``select``; empty keeps all)."""

    name: str = "uci-digits"
    options: Any = None  # the spec's config; None: its defaults
    select: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        s = spec(self.name)
        if self.options is None:
            object.__setattr__(self, "options", s.config())
        elif not (is_dataclass(self.options) and isinstance(self.options, s.config)):
            raise ValueError(f"options of dataset '{self.name}' must be a {s.config.__name__}, "
                             f"got {type(self.options).__name__}")
        object.__setattr__(self, "select", tuple(self.select))

    @property
    def spec(self) -> DatasetSpec:
        return spec(self.name)

    def load(self, source: Any = None) -> MultimodalDataset:
        ds = self.spec.load(self.options, source)
        return ds.select(list(self.select)) if self.select else ds

