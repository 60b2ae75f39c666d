"""Your own model in fusionlab: a model written in plain PyTorch, trained by a plain PyTorch loop, saved with
safetensors, then measured by the lab, which must report the accuracy the example measured itself.

    .venv/bin/python examples/your_model.py --out runs/your-model

The file is also the model file the lab imports: ``build(shapes, n_classes)`` below is the contract
(docs/your-model.md). The lab's command the example runs is

    python -m fusionlab inspect --model examples/your_model.py:build --weights W.safetensors --out DIR
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn


class TwoViews(nn.Module):
    """One small encoder per modality (a sequence is averaged over time first), concatenated, a linear head."""

    def __init__(self, shapes, n_classes, hidden=64):
        super().__init__()
        self.names = sorted(shapes)
        self.enc = nn.ModuleDict({k: nn.Sequential(nn.BatchNorm1d(shapes[k][-1]), nn.Linear(shapes[k][-1], hidden),
                                                   nn.ReLU()) for k in self.names})
        self.head = nn.Linear(hidden * len(self.names), n_classes)

    def forward(self, xs):
        parts = [self.enc[k](xs[k] if xs[k].ndim == 2 else xs[k].mean(dim=1)) for k in self.names]
        return self.head(torch.cat(parts, dim=1))


def build(shapes, n_classes):
    """The contract: ``shapes[m]`` is modality m's shape without the row axis; returns the module."""
    return TwoViews(shapes, n_classes)


def as_given(xs):
    """The lab keeps every modality as (N, T, D); a vector modality (T = 1) is handed to a model as (N, D)."""
    return {k: v[:, 0, :] if v.shape[1] == 1 else v for k, v in xs.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a new folder: the weights and the lab's tables go there")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    from safetensors.torch import save_file

    from fusionlab.data import DataConfig, SplitConfig, prepare
    from fusionlab.yours import stored_shapes

    # the data, split as the lab splits it (seed 0) and left as stored: the lab will not rescale them either
    data = prepare(DataConfig("uci-digits").load(), SplitConfig(seed=0), scale=False)
    train, test = as_given(data.train.xs), as_given(data.test.xs)
    torch.manual_seed(0)
    model = build(stored_shapes(data.shapes()), data.n_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    n = len(data.train.y)
    for _ in range(args.epochs):  # a plain PyTorch loop: nothing of the lab's engine
        model.train()
        for rows in torch.randperm(n).split(64):
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model({k: v[rows] for k, v in train.items()}), data.train.y[rows])
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        right = int((model(test).argmax(dim=1) == data.test.y).sum())  # the example's own evaluation
    own = right / len(data.test.y)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    lab = out / "lab"
    cmd = [sys.executable, "-m", "fusionlab", "inspect", "--model", f"{Path(__file__).resolve()}:build",
           "--weights", str(weights), "--permutations", "50", "--out", str(lab)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr.strip(), file=sys.stderr)
        return done.returncode
    metrics = json.loads((lab / "metrics.json").read_text())
    same = round(metrics["accuracy"] * metrics["n_test"]) == right and metrics["n_test"] == len(data.test.y)
    print(f"the example's own test accuracy {own:.4f} ({right} of {len(data.test.y)}); the lab's (inspect) "
          f"{metrics['accuracy']:.4f} -> {'equal' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
