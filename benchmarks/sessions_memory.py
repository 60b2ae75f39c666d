"""Benchmark: the server's memory with several browser sessions training at once, and after they close.

Starts ``streamlit run app.py`` on a free local port, opens ``--sessions`` browser contexts (Debian's
chromium through Playwright), each on the Playground, presses Train with the default setting (or
``--epochs``), waits until every session is idle, closes them all, and samples the server's resident
memory (VmRSS) throughout. The baseline is the warm idle server: one visitor has trained once and left
(a first training imports and allocates things for good, whoever runs it); the cold figure (home page
only) is printed too. Prints RSS at the baseline, the peak and at intervals after the sessions closed
(a closed tab's session is freed ``server.disconnectedSessionTTL`` seconds after it disconnects, plus up
to 10 s for ``fusionlab.ui.memory``'s sweep).

    python benchmarks/sessions_memory.py [--sessions 8] [--epochs 5] [--after 90] [--ttl 30]

Needs /usr/bin/chromium (``scripts/setup.sh --browser``). Talks only to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_idle(page, timeout_s: float) -> None:
    """Until Streamlit's 'running' status widget has been gone for a moment."""
    deadline = time.time() + timeout_s
    calm = 0
    while time.time() < deadline and calm < 3:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        calm = 0 if running else calm + 1
        time.sleep(0.5)


def open_playground(ctx, url: str):
    page = ctx.new_page()
    page.goto(url + "playground", timeout=60_000)
    wait_idle(page, 60)
    return page


def train_all(pages, epochs: int, wait: bool = True) -> None:
    """Set each page's epochs slider to ``epochs`` and press Train on all of them."""
    for page in pages:
        slider = page.get_by_label("epochs").first
        slider.focus()
        for _ in range(25):  # the epochs slider down to its minimum, then up to epochs
            page.keyboard.press("ArrowLeft")
        for _ in range(epochs - 1):
            page.keyboard.press("ArrowRight")
    for page in pages:
        page.get_by_role("button", name="Train", exact=True).click()
    if wait:
        for page in pages:
            wait_idle(page, 600)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=5, help="Playground epochs each session trains")
    ap.add_argument("--after", type=float, default=90, help="seconds to keep sampling after the sessions closed")
    ap.add_argument("--ttl", type=int, default=30, help="server.disconnectedSessionTTL (s)")
    ap.add_argument("--poke", action="store_true", help="one new visitor arrives ttl + 5 s after the sessions closed")
    args = ap.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
                               str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                               "--server.disconnectedSessionTTL", str(args.ttl)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    t0 = time.time()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.time() - t0, rss_mb(server.pid)))
            time.sleep(0.5)

    try:
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            first = browser.new_page()
            for _ in range(120):
                try:
                    first.goto(url, timeout=5000)
                    break
                except Exception:
                    time.sleep(0.5)
            wait_idle(first, 60)
            first.close()
            time.sleep(2)
            cold = rss_mb(server.pid)
            # Warm-up: one visitor trains once and leaves, so that what a first training loads for
            # good (torch's and plotly's lazily imported modules, thread pools, allocator arenas) is
            # in the baseline; the sessions below must return to it.
            warm = browser.new_context(viewport={"width": 1400, "height": 900})
            train_all([open_playground(warm, url)], args.epochs)
            warm.close()
            time.sleep(args.ttl + 15)
            idle = rss_mb(server.pid)
            threading.Thread(target=sample, daemon=True).start()
            contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(args.sessions)]
            pages = [open_playground(ctx, url) for ctx in contexts]
            train_all(pages, args.epochs, wait=False)
            t_train = time.time()
            for page in pages:
                wait_idle(page, 600)
            trained = time.time() - t_train
            for ctx in contexts:
                ctx.close()
            closed_at = time.time() - t0
            if args.poke:  # one new visitor after the TTL (some cleanups run only on a connection)
                time.sleep(args.ttl + 5)
                visitor = browser.new_page()
                visitor.goto(url, timeout=60_000)
                wait_idle(visitor, 60)
                visitor.close()
                time.sleep(max(0.0, args.after - args.ttl - 5))
            else:
                time.sleep(args.after)
            browser.close()
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
    peak = max(r for _, r in samples)
    print(f"{args.sessions} sessions, Playground default setting with {args.epochs} epochs each "
          f"(all trained in {trained:.0f} s)")
    print(f"server RSS: cold (home page only) {cold:.0f} MB; warm idle (after one visitor trained and left) "
          f"{idle:.0f} MB; peak {peak:.0f} MB (+{peak - idle:.0f})")
    for wait in (0, args.ttl, args.ttl + 30, args.after):
        after = [r for t, r in samples if t >= closed_at + wait]
        if after:
            print(f"  {wait:>4.0f} s after the sessions closed: {after[0]:.0f} MB (+{after[0] - idle:.0f} over idle)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
