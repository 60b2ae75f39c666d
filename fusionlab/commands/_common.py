"""Arguments and output helpers shared by the subcommands."""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict

import pandas as pd

from ..data import DATASETS, SyntheticConfig, load_dataset, load_file, MultimodalDataset


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


def add_data_args(p: argparse.ArgumentParser, default: str = "uci-digits") -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=default, help=f"one of {', '.join(DATASETS.names())}")
    g.add_argument("--views", type=csv_list, default=None, help="uci-digits views, e.g. pix,mor")
    g.add_argument("--file", default=None, help="with --dataset file: a .npz, .csv or .parquet")
    g.add_argument("--rule", default="linear", help="synthetic label rule: linear, dot, conflict")
    g.add_argument("--modalities", type=int, default=3, help="synthetic: number of modalities")
    g.add_argument("--seq-len", type=int, default=1, help="synthetic: timesteps per modality")
    g.add_argument("--samples", type=int, default=1200, help="synthetic: number of samples")
    g.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic generator")


def load_from_args(args: argparse.Namespace) -> MultimodalDataset:
    name = args.dataset
    if name == "uci-digits":
        return load_dataset(name, views=args.views)
    if name == "synthetic":
        cfg = SyntheticConfig(n_samples=args.samples, n_modalities=args.modalities, seq_len=args.seq_len,
                              rule=args.rule, seed=args.data_seed)
        ds = load_dataset(name, cfg=cfg)
        return ds.select(args.views) if args.views else ds
    if name == "file":
        if not args.file:
            raise ValueError("--dataset file needs --file PATH")
        ds = load_file(args.file)
        return ds.select(args.views) if args.views else ds
    ds = load_dataset(name)
    return ds.select(args.views) if args.views else ds


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
