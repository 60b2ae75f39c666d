"""How long one noise-slider step takes to redraw, in a real browser (issue 17 item 1: target <= 150 ms median).

Starts ``streamlit run app.py``, opens each page with a link that trains quickly (the slider's cost does not
depend on how well the model learned), presses Train, focuses the page's first noise slider and presses the
arrow key ``--steps`` times. One step's time runs from the key press until Streamlit's script is no longer
running and the page has stopped changing: the last DOM mutation before ``QUIET_MS`` of silence, observed by a
MutationObserver in the page (so the quiet wait itself is not counted). In a live view it also times the step's
answer: from the key press until the view finished redrawing the new setting (it marks each finished redraw), what
the user sees; the page may change later for other reasons (a run that ships prepared positions redraws the view's
fragment). Prints the median and max per page.

    python benchmarks/slider_latency.py                 # Playground, Gates & values, Uncertainty weighting
    python benchmarks/slider_latency.py --pages playground --steps 20
    python benchmarks/slider_latency.py --width 1024 --height 768
    python benchmarks/slider_latency.py --first-result   # seconds to each page's first result, defaults

Debian's chromium (``/usr/bin/chromium``, installed by ``scripts/setup.sh --browser``) is driven by Playwright.
The machine is shared: run it twice and report the range.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from fusionlab.ui.serve import start_app, stop_app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
QUIET_MS = 400  # no DOM change for this long: the redraw is over
PAGES = {  # page: (link that trains fast, the train button, the slider's accessible name, a text that says "trained")
    "playground": ("/playground?epochs=3", "Train", "noise on pix", "Corrupt the test set"),
    "gates_values": ("/gates_values?epochs=3", "Train VGMR", "m1: noised", "One sample, one gate"),
    "uncertainty_weighting": ("/uncertainty_weighting?epochs=6&seeds=1&e1=1&delay=1",
                              "Train", "max test noise on", "Corrupt the test set"),
}

FIRST = {  # page: (its main button, a text that appears with its first result) -- for --first-result
    "playground": ("Train", "Corrupt the test set"),
    "fusion_complexity": ("Run study", "The paper's findings, judged on this run"),
    "gates_values": ("Train VGMR", "One sample, one gate"),
    "reliability_permutation": ("Fit experts", "score to inspect"),
    "uncertainty_weighting": ("Train", "Corrupt the test set"),
}

OBSERVER = """() => {
  window.__lastMutation = performance.now();
  const watch = (doc) => new MutationObserver(() => { window.__lastMutation = performance.now(); })
    .observe(doc.body, {subtree: true, childList: true, attributes: true, characterData: true});
  watch(document);
  for (const f of document.querySelectorAll("iframe")) {  // the live views draw inside a (same-origin) iframe
    try { watch(f.contentDocument); } catch (e) {}
    try {  // a live view marks each redraw it finished (data-draw-ms): the first after a step is its answer
      if (f.src.includes("fusionlab_live")) new MutationObserver(() => {
        if (window.__armed) { window.__answered = performance.now(); window.__armed = false; }
      }).observe(f.contentDocument.body, {attributes: true, attributeFilter: ["data-draw-ms"]});
    } catch (e) {}
  }
}"""
ARM = "() => { window.__answered = null; window.__armed = true; return performance.now(); }"  # before a step
# ms from the step to the live view's redraw of the new setting (its figures swapped), or None (not a live view)
ANSWERED = "t0 => window.__answered === null || window.__answered === undefined ? null : window.__answered - t0"
SETTLED = """([t0, quiet]) => {
  const running = document.querySelector('[data-testid="stStatusWidget"]');
  const now = performance.now();
  return !running && window.__lastMutation > t0 && now - window.__lastMutation > quiet;
}"""
POSITION = """e => e.tagName === "INPUT" ? [+e.value, +e.min, +e.max]
  : [+e.getAttribute("aria-valuenow"), +e.getAttribute("aria-valuemin"), +e.getAttribute("aria-valuemax")]"""
SYNCED = """() => !document.querySelector('[data-testid="stStatusWidget"]')"""


def find_slider(page, name: str):
    """The page's slider called ``name``: a Streamlit slider, or one in a live view's iframe."""
    for frame in page.frames:
        target = frame.get_by_role("slider", name=name)
        if target.count():
            return target.first
    raise SystemExit(f"no slider called {name!r} on {page.url}")


def serve():
    try:
        return start_app(ROOT)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def measure(page, url: str, name: str, steps: int) -> list[float]:
    link, train, slider, trained = PAGES[name]
    page.goto(url + link)
    page.get_by_role("button", name=train, exact=True).click()
    page.get_by_text(trained).first.wait_for(timeout=600_000)
    page.evaluate(OBSERVER)
    t_first = time.perf_counter()
    live = page.frame_locator('iframe[src*="fusionlab_live"]')
    live.locator('body[data-pending="no"]').wait_for(timeout=600_000)  # until every position is evaluated
    evaluated = time.perf_counter() - t_first
    page.wait_for_function(SETTLED, arg=[0, QUIET_MS], timeout=600_000, polling=100)  # after training, settled
    page.evaluate(OBSERVER)  # again: a live view's iframe may have appeared since
    target = find_slider(page, slider)
    out, sync, answered = [], [], []
    key = "ArrowRight"
    for _ in range(steps):
        target.focus()
        value, lo, hi = target.evaluate(POSITION)
        if value >= hi or value <= lo:  # at an end a key press changes nothing: turn back
            key = "ArrowLeft" if value >= hi else "ArrowRight"
        t0 = page.evaluate(ARM)
        page.keyboard.press(key)
        page.wait_for_function(SETTLED, arg=[t0, QUIET_MS], timeout=120_000, polling=20)
        out.append(page.evaluate("() => window.__lastMutation") - t0)
        answered.append(page.evaluate(ANSWERED, t0))
    # a live view tells the page its setting a second after the last move (a rerun that changes nothing on
    # screen); time it too, from the last key press
    t1 = page.evaluate("() => performance.now()")
    page.wait_for_timeout(1200)
    page.wait_for_function(SYNCED, timeout=120_000, polling=20)
    sync.append(page.evaluate("() => performance.now()") - t1)
    return out, sync, evaluated, [a for a in answered if a is not None]


def server_idle(pid: int, below: float = 0.05, timeout_s: float = 60.0) -> None:
    """Wait until the server process uses less than ``below`` of a core over a second (a page's background work,
    the previous page's live-view preparation, is over), at most ``timeout_s``."""
    import os
    tick, stat = os.sysconf("SC_CLK_TCK"), Path(f"/proc/{pid}/stat")

    def cpu() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c0 = cpu()
        time.sleep(1.0)
        if cpu() - c0 < below:
            return


def first_result(page, url: str, name: str, pid: int) -> float:
    """Seconds from pressing the page's main button with its defaults to its first result on screen, once the
    server is idle."""
    button, done = FIRST[name]
    page.goto(f"{url}/{name}")
    page.get_by_role("button", name=button, exact=True).wait_for()
    server_idle(pid)
    t0 = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).click()
    page.get_by_text(done).first.wait_for(timeout=3_600_000)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default=",".join(PAGES), help=f"comma list of {', '.join(PAGES)}")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--first-result", action="store_true",
                    help="instead: seconds from the main button, with the page's defaults, to its first result "
                         "(issue 17 item 2), for every page")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    proc, url = serve()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                                        "--disable-dev-shm-usage"])
            for name in (FIRST if args.first_result else args.pages.split(",")):
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.set_default_timeout(600_000)
                if args.first_result:
                    print(f"{name:24s} first result: {first_result(page, url, name, proc.pid):6.1f} s "
                          "(target <= 5 s)")
                    page.close()
                    continue
                ms, sync, evaluated, answered = measure(page, url, name, args.steps)
                print(f"{name:24s} slider step: median {statistics.median(ms):6.0f} ms, max {max(ms):6.0f} ms "
                      f"until the page stopped changing ({len(ms)} steps; target <= 150 ms median)" + (
                          f"; the figures swapped: median {statistics.median(answered):.0f} ms, max "
                          f"{max(answered):.0f} ms" if answered else ""))
                print(f"{'':24s} every position evaluated {evaluated:.1f} s after the first draw; the page idle "
                      f"again {sync[0]:.0f} ms after the last step")
                print(f"{'':24s} steps in order (ms): {' '.join(f'{m:.0f}' for m in ms)}")
                page.close()
            browser.close()
    finally:
        stop_app(proc)


if __name__ == "__main__":
    main()
