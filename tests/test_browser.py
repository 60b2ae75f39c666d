"""One test in a real headless Chromium (Debian's, driven by Playwright).

Starts ``streamlit run app.py`` on a free port; its first request is a deep link, which must open the
full app. Then it opens the Playground, trains a tiny
model, drags a noise slider with the keyboard, and checks that the accuracy shown
changed and that no exception element is on the page.
"""
import os
from pathlib import Path

import pytest

from fusionlab.ui.serve import start_app, stop_app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                 "(scripts/setup.sh --browser installs it)")]


def _serve():
    try:
        proc, url = start_app(ROOT)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield url
    stop_app(proc)


@pytest.fixture(scope="module")
def server():
    yield from _serve()


@pytest.fixture(scope="module")
def fresh_server(server):
    """A second server, started for the reopening tests: a bundle from the first one opens where its run was
    never trained (no session, no cache of it)."""
    yield from _serve()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1800})
        pg.set_default_timeout(240_000)  # generous: a loaded 2-core machine is slow
        yield pg
        browser.close()


def _open_playground(pg, server) -> None:
    pg.goto(server)  # as a user does: the home page first, then the sidebar
    pg.get_by_text("a laboratory for multimodal fusion").wait_for()
    pg.locator('[data-testid="stSidebarNav"]').get_by_text("Playground").click()
    pg.get_by_role("button", name="Train").wait_for()


def _download(pg, path) -> None:
    """Prepare the run's download and save it to ``path``. A prepared download the page withdraws before it is
    pressed (the box says what changed: another seed landed, a slider moved) is prepared again, once; a box that
    shows no download fails the test with what the box and any error box say."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    box = pg.locator('[class*="-bundle-box"]').first
    ready = pg.get_by_role("button", name="Download run (.zip)")
    said = []
    for _ in range(2):
        pg.get_by_role("button", name="Prepare the download").click()
        withdrawn = pg.get_by_text("since the download was prepared")
        try:
            ready.or_(withdrawn).first.wait_for(timeout=120_000)
            if withdrawn.count():
                said.append(withdrawn.first.inner_text())
                continue
            with pg.expect_download() as info:
                ready.click(timeout=30_000)
        except PlaywrightTimeout:
            errors = pg.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
            raise AssertionError(f"no download after Prepare; the box shows {box.inner_text()!r}; errors {errors}; "
                                 f"withdrawn before: {said}") from None
        info.value.save_as(path)
        return
    raise AssertionError(f"the prepared download was withdrawn twice: {said}")


def _reopen(pg, path) -> None:
    """Upload the bundle and press Reopen once it has reached the page: the file's name shows at once, its size
    once it is sent; a click before the upload's own rerun carries no file (the page says so) and is pressed
    again, and an upload that never arrives is made again."""
    import re
    for _ in range(3):
        pg.locator('input[type="file"]').last.set_input_files(str(path))
        pg.get_by_text(path.name).first.wait_for()
        pg.get_by_text(re.compile(r"^\d+(\.\d+)?\s?[KM]B$")).first.wait_for()
        for _ in range(3):
            pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
            pg.get_by_role("button", name="Reopen").click()
            done = pg.get_by_text("nothing was retrained").or_(pg.get_by_text("No run bundle has reached the page"))
            done.first.wait_for()
            if pg.get_by_text("nothing was retrained").count():
                return
            pg.wait_for_timeout(1500)
    pg.screenshot(path="/tmp/reopen-fail.png")
    raise AssertionError("the uploaded bundle never reached the page")


def _live(pg):
    """The Playground's live view: its sliders and figures draw in a component's iframe."""
    return pg.frame_locator('iframe[src*="fusionlab_live"]')


def _accuracy(pg) -> str:
    return _live(pg).locator(".metric .value").first.inner_text()


def test_a_deep_link_as_the_first_request_opens_the_full_app(server, page):
    """First in this module: the fresh server's first request is a deep link. Without
    ``ui.shell.ensure_app`` it ran the page file alone (sidebar of file names, for every later
    visitor too)."""
    page.goto(f"{server}/gates_values")
    page.get_by_text("a value-gated refiner before fusion").wait_for()
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_text("Gates & values", exact=True).wait_for()
    assert "gates values" not in nav.inner_text().lower().replace("gates & values", "")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_playground_trains_and_answers_noise_slider(server, page, tmp_path):
    _open_playground(page, server)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Corrupt the test set").wait_for()
    _live(page).locator(".metric .value").first.wait_for()
    # while the page evaluates the other slider positions (a few runs of the fragment), the view is re-sent at
    # the start of each run: Streamlit never fades it as stale (it did, for seconds after every training)
    opacity = page.evaluate("""async () => { const f = document.querySelector('iframe[src*="fusionlab_live"]');
        let low = 1; for (let i = 0; i < 30; i++) { let e = f;
          while (e) { low = Math.min(low, parseFloat(getComputedStyle(e).opacity)); e = e.parentElement; }
          await new Promise(r => setTimeout(r, 100)); } return low; }""")
    assert opacity > 0.95, opacity
    # after Train the page shows its result: the noise sliders' heading is scrolled to the top (it was below the
    # fold at 1024x768 and nothing scrolled, issue 33)
    page.wait_for_function("() => { const h = document.getElementById('corrupt-the-test-set');"
                           " return h && h.getBoundingClientRect().top >= 0 && h.getBoundingClientRect().top < 200; }")
    clean = _accuracy(page)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Playground" in nav and "Home" in nav, nav
    noise_slider = _live(page).get_by_role("slider", name="noise on pix")
    noise_slider.focus()
    page.keyboard.press("End")
    page.wait_for_function(  # the figures change in the browser, without a rerun
        """clean => { const f = document.querySelector('iframe[src*="fusionlab_live"]');
                      const e = f && f.contentDocument.querySelector('.metric .value');
                      return e && e.innerText !== clean; }""", arg=clean)
    page.wait_for_function(  # the view reports the setting a second later; the page stores it and sends its axes
        """() => { const f = document.querySelector('iframe[src*="fusionlab_live"]');
                   const b = f && f.contentDocument.body;
                   return b && b.dataset.pending === "no" && b.dataset.agreed
                          && b.dataset.agreed.split(",")[0] !== "0"; }""")
    page.screenshot(path=os.environ.get("FUSIONLAB_SCREENSHOT", str(tmp_path / "playground.png")), full_page=True)
    assert _accuracy(page) != clean
    assert _live(page).locator("#val-0").inner_text() == "1"  # the slider's end, as the page knows it too:
    _live(page).get_by_role("slider", name="noise on mor").focus()  # mor's positions with pix at 1 came with it
    page.keyboard.press("End")
    page.wait_for_timeout(300)
    assert _live(page).locator("#status").inner_text() == ""  # not "computing"
    page.wait_for_function("() => location.search.includes('level-pix=')")  # the sliders' setting is in the address
    assert page.locator('[data-testid="stException"]').count() == 0


def test_second_tab_does_not_see_the_first_tabs_model(server, page):
    """Models live in the session: a new tab starts with none (runs after the training test)."""
    other = page.context.browser.new_page()
    other.set_default_timeout(240_000)
    try:
        _open_playground(other, server)
        other.get_by_text("No model yet").wait_for()
        assert other.get_by_text("Corrupt the test set").count() == 0
    finally:
        other.close()


def test_stop_interrupts_training(server, page):
    _open_playground(page, server)
    epochs = page.get_by_role("slider").first
    epochs.focus()
    page.keyboard.press("End")  # 100 epochs: long enough to stop
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Train").click()
    page.wait_for_function("() => { const m = document.body.innerText.match(/epoch (\\d+)\\/100/);"
                           " return m && Number(m[1]) >= 2; }")
    # the last epoch the page drew, until the stop shows (an epoch takes well under the click's round trip now,
    # so the count of epochs between reading it and the server seeing the click says nothing about Stop)
    page.evaluate("""() => { window.__maxEpoch = 0; const look = () => {
        for (const bar of document.querySelectorAll('[data-testid="stProgress"]'))
          for (const m of bar.innerText.matchAll(/epoch (\\d+)\\/100/g))
          window.__maxEpoch = Math.max(window.__maxEpoch, Number(m[1])); };
        look(); new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    seen = page.evaluate("() => window.__maxEpoch")
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()  # not the header's
    page.get_by_text("Training stopped by you").wait_for()
    assert page.get_by_text("epoch 100/100").count() == 0
    reported = int(page.get_by_text("Training stopped by you").inner_text().split("epoch ")[1].split("/")[0])
    drawn = page.evaluate("() => window.__maxEpoch")
    # it stops before the end and says which epoch it had finished: at least the last the bar showed before the
    # click (seen), never more than one behind what the bar drew. The bar may lag the server: the same test on
    # afadeac's code failed 1 run in 3 with (seen, drawn, reported) = (4, 10, 21), and 1 in 3 here with (8, 8, 21)
    # and (2, 4, 3), when the click or the deltas reached the other side late; the upper bound drawn + 1 measured
    # that lag, not Stop, so it is not asserted.
    assert 0 < seen <= reported < 100 and reported >= drawn - 1, (seen, drawn, reported)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_your_outputs_upload_runs_the_permutation_test(server, page, tmp_path):
    """The upload a user makes: a table of posteriors with a modality missing on some rows."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(0)
    n = 160
    y = np.arange(n) % 2
    df = pd.DataFrame({"label": y, "split": np.where(np.arange(n) < 110, "train", "test"),
                       "p__a": np.clip(0.25 + 0.5 * y + rng.normal(0, 0.2, n), 0, 1), "p__b": rng.random(n),
                       "q__a": rng.random(n), "q__b": rng.random(n), "present__b": (np.arange(n) % 4 > 0).astype(int)})
    df.to_csv(tmp_path / "mine.csv", index=False)
    page.goto(f"{server}/reliability_permutation")
    page.get_by_text("your own model's outputs").click()
    outputs = page.locator('[data-testid="stFileUploader"]').filter(has_text="your outputs")  # not the bundle box's
    outputs.locator('input[type="file"]').set_input_files(str(tmp_path / "mine.csv"))
    page.get_by_text("mine.csv").first.wait_for()
    page.get_by_role("button", name="Load outputs").click()
    page.get_by_text("score to inspect").wait_for()
    assert page.get_by_text("missing: b 25%").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_a_downloaded_run_reopens_in_another_browser_context(server, fresh_server, page, tmp_path):
    _open_playground(page, server)
    epochs = page.get_by_role("slider").first
    epochs.focus()
    page.keyboard.press("Home")  # 1 epoch
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Corrupt the test set").wait_for()
    _live(page).locator(".metric .value").first.wait_for()
    clean = _accuracy(page)
    _live(page).get_by_role("slider", name="noise on pix").focus()  # what was on screen goes into the bundle
    page.keyboard.press("End")
    page.wait_for_function(  # the page has stored the moved setting (the view reports it a second later)
        """() => { const f = document.querySelector('iframe[src*="fusionlab_live"]');
                   const b = f && f.contentDocument.body;
                   return b && b.dataset.pending === "no" && b.dataset.agreed
                          && b.dataset.agreed.split(",")[0] !== "0"; }""")
    noisy = _accuracy(page)
    assert noisy != clean
    path = tmp_path / "run.zip"
    _download(page, path)
    other = page.context.browser.new_context().new_page()  # another user on another server: no model, no session
    other.set_default_timeout(240_000)
    other.goto(f"{fresh_server}/playground")
    other.get_by_role("button", name="Train", exact=True).wait_for()
    _reopen(other, path)
    other.get_by_text("Corrupt the test set").wait_for()
    _live(other).locator(".metric .value").first.wait_for()
    assert _accuracy(other) == noisy  # the sliders and the numbers that were on screen (it reopened at 0 noise)
    assert _live(other).locator("#val-0").inner_text() == "1"
    assert other.locator('[data-testid="stException"]').count() == 0
    other.context.close()


def test_a_gates_run_reopens_in_another_browser_context(server, fresh_server, page, tmp_path):
    """Gates & values: every model the page trained goes into the bundle; another user reopens it and sees the
    same model (the caption's clean test accuracy), without training."""
    page.goto(f"{server}/gates_values?epochs=1")
    page.get_by_role("button", name="Train VGMR", exact=True).click()
    page.get_by_text("One sample, one gate").wait_for()
    caption = page.get_by_text("clean test accuracy").first.inner_text()
    live = _live(page)  # a noise weight with nothing noised changes nothing: it is greyed out and says so
    weight, noised = live.get_by_role("slider", name="m1: noise weight"), live.get_by_role("slider", name="m1: noised")
    assert weight.is_disabled() and "no effect" in live.locator("#val-1").inner_text()
    noised.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("""() => { const f = document.querySelector('iframe[src*="fusionlab_live"]');
        const w = f && f.contentDocument.getElementById('slider-1'); return w && !w.disabled; }""")
    path = tmp_path / "gates.zip"
    _download(page, path)
    other = page.context.browser.new_context().new_page()
    other.set_default_timeout(240_000)
    other.goto(f"{fresh_server}/gates_values")
    other.get_by_role("button", name="Train VGMR", exact=True).wait_for()
    _reopen(other, path)
    other.get_by_text("One sample, one gate").wait_for()
    assert other.get_by_text("clean test accuracy").first.inner_text() == caption
    other.frame_locator('iframe[src*="fusionlab_live"]').get_by_role("slider", name="m1: noised").wait_for()
    assert other.locator('[data-testid="stException"]').count() == 0
    other.context.close()


# page, a link to a quick setting, its run button, text once the run is shown, text that names the run's numbers
QUICK_RUNS = {
    "fusion_complexity": ("fusion_complexity?max_size=64&seeds=2&epochs=2", "Run study",
                          "The paper's findings, judged on this run", "learns the task from less data"),
    "reliability_permutation": ("reliability_permutation?k=50", "Fit experts", "score to inspect",
                                "Experts (logreg) test accuracy"),
    "uncertainty_weighting": ("uncertainty_weighting?epochs=2&methods=static,udml", "Train",
                              "Does the paper's finding hold here?", "Trained static, udml"),
}


@pytest.mark.parametrize("name", list(QUICK_RUNS))
def test_every_other_page_reopens_its_run_in_another_browser_context(server, fresh_server, page, tmp_path, name):
    """Fusion complexity, Reliability permutation, Uncertainty weighting: run the page's quick setting, download
    the run, reopen it as another user, and see the same numbers without a run there."""
    link, button, shown, numbers = QUICK_RUNS[name]
    page.goto(f"{server}/{link}")
    page.get_by_role("button", name=button, exact=True).click()
    page.get_by_text(shown).first.wait_for()
    if name == "uncertainty_weighting":  # its other seeds train in the background: wait until they have landed
        # (their note is drawn in the run that starts them, and goes in a later one; waiting only for it to be gone
        # passed before it was drawn, and the download prepared then was dropped when the seeds landed)
        page.get_by_text("are training (about").wait_for(state="attached")
        page.get_by_text("are training (about").wait_for(state="detached")
    before = page.get_by_text(numbers).first.inner_text()
    path = tmp_path / "run.zip"  # a short name: the uploader shows a long one cut
    _download(page, path)
    other = page.context.browser.new_context().new_page()
    other.set_default_timeout(240_000)
    other.goto(f"{fresh_server}/{name}")
    other.get_by_role("button", name=button, exact=True).wait_for()
    _reopen(other, path)
    other.get_by_text(shown).first.wait_for()
    assert other.get_by_text(numbers).first.inner_text() == before
    assert other.locator('[data-testid="stException"]').count() == 0
    assert other.locator('[data-testid="stAlertContentError"]').count() == 0
    other.context.close()
