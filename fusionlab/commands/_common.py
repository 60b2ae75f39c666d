"""Arguments and output helpers shared by the subcommands.

The data arguments are generated from the registered dataset specs (``fusionlab.data.spec``): a
config field with a ``flag`` becomes that flag, so no command names a dataset, and a flag left
out keeps the study's default for the chosen dataset (``experiments.base.data_default``).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

import pandas as pd

from ..data import DATASETS, DataConfig, controls, spec
from ..data.spec import kind_of
from ..experiments.base import Result, data_default
from ..findings import Finding


def csv_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in csv_list(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from exc


def modality_list(text: str) -> list[int]:
    """``m2`` or ``m1,m3`` (or 0-based indices) as 0-based modality indices; ``none`` is empty."""
    if text.strip().lower() == "none":
        return []
    out = []
    for t in csv_list(text):
        t = t.lower()
        if t.startswith("m") and t[1:].isdigit() and int(t[1:]) >= 1:
            out.append(int(t[1:]) - 1)
        elif t.isdigit():
            out.append(int(t))
        else:
            raise argparse.ArgumentTypeError(f"expected modality names like m2 (or 'none'), got '{text}'")
    return out


PARSERS = {"int": int, "float": float, "str": str, "path": str, "strs": csv_list, "floats": float_list,
           "modalities": modality_list}


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_data_args(p: argparse.ArgumentParser, datasets: Sequence[str], default: str) -> None:
    """``--dataset`` and every option flag of the given datasets' specs (each flag once)."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=default, help=f"one of {', '.join(datasets)} (default {default})")
    seen: Dict[str, list] = {}
    for name in datasets:
        for f in controls(spec(name).config):
            seen.setdefault(f.metadata["flag"], []).append((name, f))
    for flag, owners in seen.items():
        f = owners[0][1]
        kind = kind_of(f)
        helps = f.metadata["help"]
        if kind == "bool":
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=helps)
        else:
            choices = f.metadata.get("choices") if kind == "str" else None
            g.add_argument(flag, type=PARSERS[kind], default=None, choices=choices, help=helps)
    if "--views" not in seen:
        g.add_argument("--views", type=csv_list, default=None, help="modalities to keep, e.g. m1,m2")


def data_config(args: argparse.Namespace, datasets: Sequence[str], defaults: Mapping[str, DataConfig]) -> DataConfig:
    """The ``DataConfig`` the arguments describe: the study's default for the dataset, with every flag given."""
    name = args.dataset
    if name not in datasets:
        DATASETS.get(name)  # an unknown name: the registry's message
        raise ValueError(f"this command takes --dataset {', '.join(datasets)}; got '{name}'")
    base = data_default(defaults, name)
    fields = controls(spec(name).config)
    values: Dict[str, Any] = {}
    for f in fields:
        v = getattr(args, _dest(f.metadata["flag"]), None)
        if v is not None:
            values[f.name] = tuple(v) if isinstance(v, list) else v
    cfg = replace(base, options=replace(base.options, **values)) if values else base
    if not any(f.metadata["flag"] == "--views" for f in fields) and getattr(args, "views", None):
        cfg = replace(cfg, select=tuple(args.views))
    return cfg


def out_dir(path: str) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"--out {p} exists and is not a directory")
    p.mkdir(parents=True, exist_ok=True)
    return p


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so no half-written file is left behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def write_json(obj: Dict[str, Any], path: Path) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def write_tables(result: Result, out: Path, names: Sequence[str]) -> None:
    """The named tables of ``result`` as ``<name>.csv`` in ``out``."""
    for name in names:
        if name in result.tables:
            write_csv(result.tables[name], out / f"{name}.csv")


def print_findings(findings: Sequence[Finding]) -> None:
    for f in findings:
        print(f.line())


def finding_records(findings: Sequence[Finding]) -> list:
    return [{"claim": f.claim, "verdict": f.verdict, "holds": f.holds, "evidence": f.evidence} for f in findings]


def progress_printer(bar):
    """A study ``progress`` callback driving a tqdm bar (percent)."""

    def progress(fraction: float, message: str, epoch=None) -> None:
        bar.update(int(fraction * 100) - bar.n)
        bar.set_postfix_str(message, refresh=False)

    return progress
