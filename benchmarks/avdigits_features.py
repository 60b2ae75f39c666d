"""What av-digits' signal-path noise costs a slider position (issue 31: feature extraction for the 300 test clips per
level must stay within the preparation times the lab already has).

Measured side by side in one run, medians of ``--repeats``:
- importing librosa and its first log-mel (a fresh interpreter each time; it loads lazily), and computing the log-mel frames of 300 clips;
- one slider position of the Playground's live view (``noisy_evaluation`` on the 300 test rows of a trained default
  model): ``snr`` on the audio (noise on the sound, features recomputed) against ``gaussian`` on the audio features
  (no recomputation), and against one position on the default dataset (uci-digits), what the lab prepares today.

    FUSIONLAB_FSDD_DIR=~/fsdd python benchmarks/avdigits_features.py [--repeats 7]

torchaudio was the other candidate: no torchaudio release is built for the pinned torch 2.13 (pip lists 2.0-2.11), so
it cannot be pinned to the torch build; librosa (with scipy and numpy, already here) can.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_time(fn, repeats: int) -> tuple[float, float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from fusionlab.data import SplitConfig, load_dataset, prepare
    from fusionlab.data.avdigits import fsdd_folder, log_mel
    from fusionlab.diagnostics import noisy_evaluation
    from fusionlab.experiments.playground import PlaygroundConfig, run
    fsdd_folder()  # one line naming what is missing, before anything is timed

    base = ("import time; t = time.perf_counter(); import numpy as np; from fusionlab.data.avdigits import log_mel; "
            "{call}print(time.perf_counter() - t)")
    timed = {what: [float(subprocess.run([sys.executable, "-c", base.format(call=call)], capture_output=True, text=True,
                                         check=True).stdout) for _ in range(3)]
             for what, call in (("without", ""), ("with", "log_mel(np.zeros((1, 2480), np.float32)); "))}
    extra = [a - b for a, b in zip(timed["with"], timed["without"])]  # librosa loads lazily, on the first call
    print(f"librosa's import and first log-mel, beyond importing the lab: median {statistics.median(extra):.2f} s "
          f"(range {min(extra):.2f}-{max(extra):.2f})")

    data = prepare(load_dataset("av-digits"), SplitConfig())
    clips = data.test.xs.raw["audio"].signal
    m, lo, hi = median_time(lambda: log_mel(clips), args.repeats)
    print(f"log-mel of {len(clips)} clips: median {m * 1000:.0f} ms (range {lo * 1000:.0f}-{hi * 1000:.0f})")

    from fusionlab.data import DataConfig
    from fusionlab.train import TrainConfig
    quick = TrainConfig(epochs=3)  # the cost of a position does not depend on how well the model learned
    av = run(PlaygroundConfig(data=DataConfig("av-digits"), train=quick)).artifacts
    model, data = av.model, av.data
    uci = run(PlaygroundConfig(train=quick)).artifacts
    rows = {
        "av-digits, snr on the sound (recomputed)": lambda: noisy_evaluation(model, data, {"audio": 0.5}, "snr", 0),
        "av-digits, gaussian on the audio features": lambda: noisy_evaluation(model, data, {"audio": 0.5}, "gaussian",
                                                                             0),
        "av-digits, gaussian on the image pixels (recomputed)": lambda: noisy_evaluation(model, data, {"image": 0.5},
                                                                                        "gaussian", 0),
        "uci-digits (default), mix on pix": lambda: noisy_evaluation(uci.model, uci.data, {"pix": 0.5}, "mix", 0),
    }
    measured = {k: median_time(f, args.repeats) for k, f in rows.items()}
    ref = measured["uci-digits (default), mix on pix"][0]
    for k, (m, lo, hi) in measured.items():
        print(f"one slider position, {k}: median {m * 1000:.0f} ms (range {lo * 1000:.0f}-{hi * 1000:.0f}), "
              f"{m / ref:.1f}x the default dataset's")


if __name__ == "__main__":
    main()
