"""Benchmark: a feature folder the size of CMU-MOSI (and, with --mosei, CMU-MOSEI) through the lab's CLI and through a
plain PyTorch loop over the same memory-mapped arrays.

Writes a folder of float32 ``.npy`` arrays (MOSI: 2,199 clips x 50 steps x (768, 5, 20); MOSEI: 22,856 x 50 x
(768, 74, 35), about 7 GB of disk), then, each in its own process, trains the lab's default model (concat fusion)
for one epoch:

- ``lab``: ``python -m fusionlab train --dataset file --file DIR --epochs 1`` (the folder read memory-mapped; its
  features held in memory as float32 when three copies fit the 2 GiB budget, else read from disk a batch
  at a time);
- ``lab, on disk``: the same with ``--memory-budget 0``, so the batches are always gathered from the memory maps;
- ``plain``: the same model built by the lab, trained by a plain loop that gathers each batch from the memory-mapped
  arrays and standardises it on the fly (train statistics computed in chunks).

Prints, per shape, each process's peak anonymous memory (RssAnon, sampled every 20 ms), the epoch's training time
(the lab's from its history, the plain loop's timed around its loop) and their ratio, repeated ``--repeats`` times.

    python benchmarks/large_data.py [--mosei] [--repeats 2] [--dir /tmp/fusionlab-large]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"mosi": (2199, 50, {"text": 768, "audio": 5, "vision": 20}),
          "mosei": (22856, 50, {"text": 768, "audio": 74, "vision": 35})}


def write_folder(d: Path, n: int, t: int, dims: dict, chunk: int = 512) -> None:
    """The folder, written in chunks (never the whole array in memory); skipped when already there."""
    if (d / "labels.npy").exists():
        return
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    for name, dim in dims.items():
        out = np.lib.format.open_memmap(d / f"{name}.npy", mode="w+", dtype=np.float32, shape=(n, t, dim))
        w = rng.normal(size=dim).astype(np.float32)
        for i in range(0, n, chunk):
            part = rng.normal(size=(min(chunk, n - i), t, dim)).astype(np.float32)
            out[i:i + chunk] = part + 0.3 * (2 * y[i:i + chunk, None, None] - 1) * w
        out.flush()
        del out
    np.save(d / "labels.npy", y)
    np.save(d / "split.npy", np.where(np.arange(n) % 10 < 7, 0, np.where(np.arange(n) % 10 < 8, 1, 2)))


def peak_anon(cmd: list) -> tuple:
    """Run ``cmd``; its exit code, stdout and peak RssAnon in MiB (sampled every 20 ms)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode:
        print(err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}", file=sys.stderr)
    return proc.returncode, out, peak / 1024


def plain(folder: str) -> None:
    """The plain loop (run in its own process): one epoch over memory-mapped arrays, batches gathered on demand."""
    import torch
    from torch import nn
    torch.set_num_threads(1)
    from fusionlab.models import ModelConfig, build_model
    d = Path(folder)
    names = [p.stem for p in sorted(d.glob("*.npy")) if p.stem not in ("labels", "split")]
    xs = {k: np.load(d / f"{k}.npy", mmap_mode="r") for k in names}
    y = np.load(d / "labels.npy")
    split = np.load(d / "split.npy")
    train = np.nonzero(split == 0)[0]
    stats = {}
    for k, a in xs.items():  # train statistics in chunks
        s, s2, m = 0.0, 0.0, 0
        for i in range(0, len(train), 256):
            part = np.asarray(a[train[i:i + 256]], dtype=np.float64).reshape(-1, a.shape[-1])
            s, s2, m = s + part.sum(0), s2 + (part ** 2).sum(0), m + len(part)
        mean = s / m
        stats[k] = (torch.as_tensor(mean, dtype=torch.float32),
                    torch.as_tensor(np.sqrt(np.maximum(s2 / m - mean ** 2, 1e-12)), dtype=torch.float32))
    model = build_model({k: a.shape[1:] for k, a in xs.items()}, 2, ModelConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    model.train()
    for rows in np.array_split(np.random.default_rng(0).permutation(train), max(1, len(train) // 64)):
        rows = np.sort(rows)
        batch = {k: (torch.from_numpy(np.asarray(a[rows])) - stats[k][0]) / stats[k][1] for k, a in xs.items()}
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(batch).logits, torch.as_tensor(y[rows]))
        loss.backward()
        opt.step()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mosei", action="store_true", help="also the MOSEI-shaped folder (~7 GB of disk)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "fusionlab-large"))
    p.add_argument("--plain", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.plain:
        plain(args.plain)
        return 0
    for shape in ["mosi"] + (["mosei"] if args.mosei else []):
        n, t, dims = SHAPES[shape]
        d = Path(args.dir) / shape
        write_folder(d, n, t, dims)
        size = sum(n * t * v * 4 for v in dims.values()) / 2**20
        print(f"{shape}: {n} x {t} x {tuple(dims.values())}, {size:.0f} MiB of float32 features")
        for r in range(args.repeats):
            lab = {}
            for mode, extra in (("lab", []), ("lab, on disk", ["--memory-budget", "0"])):
                with tempfile.TemporaryDirectory() as tmp:
                    code, _, mb = peak_anon([sys.executable, "-m", "fusionlab", "train", "--dataset", "file",
                                             "--file", str(d), "--epochs", "1", "--out", f"{tmp}/o", *extra])
                    if code:
                        print(f"  {mode}: refused or failed (exit {code}); peak RssAnon {mb:.0f} MiB")
                        continue
                    import pandas as pd
                    lab[mode] = (float(pd.read_csv(f"{tmp}/o/history.csv")["train_seconds"].iloc[0]), mb)
            code, out, plain_mb = peak_anon([sys.executable, str(Path(__file__).resolve()), "--plain", str(d)])
            plain_s = json.loads(out.strip().splitlines()[-1])["seconds"]
            parts = [f"{mode} epoch {s_:.1f} s (ratio {s_ / plain_s:.2f}), peak RssAnon {mb:.0f} MiB"
                     for mode, (s_, mb) in lab.items()]
            print(f"  run {r + 1}: plain epoch {plain_s:.1f} s, peak RssAnon {plain_mb:.0f} MiB; " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
