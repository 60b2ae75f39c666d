"""Benchmark: a page's default training with 1 and 2 torch intra-op threads, idle and next to a busy process.

The dashboard (``app.py``) trains with one torch thread. This measures why: each study's ``run()`` with its
page's defaults (UDML, Playground, Fusion complexity), in a fresh subprocess per thread count (the count is
fixed before the first op), once with the machine as it is and once with one more process spinning on a core
(what a browser, another session's training or a worker does on a 2-core machine). Each cell is the median of
``--repeats`` runs after one warm-up run, with the range; the ratio is 2 threads over 1.

    python benchmarks/torch_threads.py [--repeats 3] [--studies udml,playground,scaling]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import subprocess
import sys
import time

CHILD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
import importlib
study = importlib.import_module("fusionlab.experiments." + sys.argv[2])
study.run(study.DEFAULT)  # warm-up: imports, first-call costs
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); study.run(study.DEFAULT); print(time.perf_counter() - t, flush=True)
"""


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def measure(threads: int, study: str, repeats: int) -> list[float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), study, str(repeats)],
                         capture_output=True, text=True, check=True).stdout
    return [float(line) for line in out.split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--studies", default="udml,playground,scaling")
    args = ap.parse_args()
    for busy in (False, True):
        stop = mp.Event()
        spinner = mp.Process(target=_spin, args=(stop,)) if busy else None
        if spinner:
            spinner.start()
            time.sleep(0.5)
        try:
            for study in args.studies.split(","):
                cells = {n: measure(n, study, args.repeats) for n in (1, 2)}
                med = {n: statistics.median(v) for n, v in cells.items()}
                print(f"{'one busy process' if busy else 'as is':17s} {study:11s} "
                      + "  ".join(f"{n} thread{'s' if n > 1 else ' '}: {med[n]:5.2f} s [{min(v):.2f}-{max(v):.2f}]"
                                  for n, v in cells.items())
                      + f"  ratio 2/1: {med[2] / med[1]:.2f}", flush=True)
        finally:
            if spinner:
                stop.set()
                spinner.join()


if __name__ == "__main__":
    main()
