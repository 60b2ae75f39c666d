"""Uncertainty weighting

The UDML paper (UDML): noise-aware per-sample modality weights, their baselines, and dual suppression.
"""
from dataclasses import replace

import streamlit as st

from fusionlab.diagnostics.udml import alpha_table, noise_label, signal_test
from fusionlab.experiments import udml as study_mod
from fusionlab.figures import udml as fig
from fusionlab.ui.findings import show_findings
from fusionlab.ui.lessons import lesson_panel
from fusionlab.ui.executor import page_executor
from fusionlab.ui.links import link_box, open_link, write_link
from fusionlab.ui.glossary import term
from fusionlab.ui.sharing import share_name
from fusionlab.ui.training import (ask_scroll, follow_background, live_run, running_in_background, scroll_to_result,
                                   start_background, stop_background, train_buttons)
from fusionlab.ui.signals import signal_header, signal_section
from fusionlab.ui.live import live_view
from fusionlab.ui.udml import (KEY, NOISE_LAYOUT, URL_PATH, UDMLRun, attribution_section, bundle_controls, controls,
                               current_levels, current_run, formula_expander, link_params, noise_frame, noise_sliders,
                               preset_buttons, store_run)
from fusionlab.ui.restart import lost_notice, mark
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("Uncertainty weighting")
panel = lesson_panel(KEY)  # a lesson step's question, while one is open
lost_notice(KEY, "set of models", has_run=current_run() is not None)  # a run lost with a reload or a restart
st.markdown(
    f"Dynamic fusion gives each modality a **per-sample weight** from an uncertainty estimate. {term('udml', 'UDML')} "
    "(the UDML paper) learns to *predict the injected noise intensity* and divides by the model's "
    f"**{term('alpha', 'dependency α')}** on each modality, so a modality that is hard to learn is not punished twice "
    f"(\"dual suppression\"). Press **Train** to train {term('static', 'static')} fusion, {term('pe', 'PE')} (weights "
    "from the embedding variance) and UDML with and without α, once per seed (three by default: the first seed's "
    "figures appear at once, and the findings, which compare methods over seeds, are decided when the other two "
    "land a few seconds later); then move the test-noise sliders. Read (a) as *does the estimate rise with the noise?*, (b) as "
    "*does a noisier sample get less weight?*, and (d) as *does dynamic weighting beat static fusion?*"
)
preset_buttons()

open_link(KEY, link_params, study_mod.DEFAULT.data.name)  # a link's settings, before the widgets are drawn
with st.container(border=True):
    cfg = controls()
    formula_expander()
    if cfg is not None:
        tc = cfg.schedule
        if cfg.train.epochs <= tc.clean_epochs + tc.weight_delay:
            st.warning(f"With {cfg.train.epochs} epochs, E₁ = {tc.clean_epochs} and a delay of {tc.weight_delay}, the "
                       "noise estimates never enter the training weights: PE and UDML without α train like static fusion "
                       "(UDML weighs by 1/α alone, if α applies during warm-up), and their estimates act only at "
                       f"evaluation. Use more than {tc.clean_epochs + tc.weight_delay} epochs.")
    if not st.session_state.get(f"{KEY}-methods"):
        st.info("No method picked: all four will be trained.")
    executor, where = page_executor()
    st.caption(f"Its trainings run {where}, one job per setting; Stop cancels the jobs not started yet.")
    with st.container(horizontal=True, vertical_alignment="center"):
        start, stop = train_buttons(KEY)
        link_box(KEY, URL_PATH, link_params(st.session_state[f"{KEY}-dataset"]))

if stop:  # Stop also stops the seeds that decide the findings (the first seed's result is kept)
    st.session_state[f"{KEY}-deciding"] = None
    stop_background(KEY)
if start and cfg is not None:
    st.session_state.pop(f"{KEY}-deciding-error", None)
    try:
        source = st.session_state.get(f"{KEY}-source")
        # the first seed first, shown at once; the others (which decide the findings) train after the page is drawn
        first = replace(cfg, seeds=1)
        part = live_run(KEY, lambda progress: study_mod.run_part(cfg, first.seed_list(), progress=progress,
                                                                 source=source, executor=executor),
                        label=f"{len(cfg.methods)} methods, seed {cfg.train.seed}"
                              + (f" (then {cfg.seeds - 1} more seeds)" if cfg.seeds > 1 else ""),
                        share=share_name(KEY, cfg, first.seed_list(), source=source))
    except ValueError as exc:
        st.error(f"Cannot train: {exc}" + (" The model below is the one trained before, with its own settings."
                                            if st.session_state.get(f"{KEY}-run") is not None else ""))
    else:
        if not part.stopped:
            store_run(UDMLRun(study_mod.from_parts(first, [part], source), first))
            st.session_state[f"{KEY}-deciding"] = (cfg, part, source) if cfg.seeds > 1 else None
            ask_scroll(KEY, panel.anchor("corrupt-the-test-set"))

bundle_controls(current_run())  # after training, so a study trained in this run can be downloaded
run = current_run()
if run is None:
    st.info("No models yet: pick a preset (or your own settings) and press **Train**.")
    st.stop()
mark(KEY)

study = run.study
st.caption(f"Trained {', '.join(study.methods)} with seeds {study.seeds} on {study.data.name} "
           f"({', '.join(study.data.modality_names)}), {run.config.train.epochs} epochs; test set {len(study.data.test)} "
           f"samples. Figures use every seed; (b) shows seed {study.seeds[0]}.")
if cfg is not None and cfg != run.config and st.session_state.get(f"{KEY}-deciding") is None:
    st.info("The controls above have changed since this study was trained; press **Train** to train the new setting.")


@st.fragment
def noise_view(run: UDMLRun) -> None:
    study = run.study
    st.subheader("Corrupt the test set", anchor="corrupt-the-test-set")
    weighted = [m for m in study.methods if m != "static"] or study.methods
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.markdown("Each test sample gets gaussian noise of a random level between 0 and the slider's value, "
                  "per modality; the frozen models are re-evaluated at once.")
    meth = right.selectbox("per-sample weights of", weighted, index=len(weighted) - 1, key=f"{KEY}-wmethod")
    live_view(f"{KEY}-live", noise_sliders(study.data.modality_names, study.schedule),
              lambda values: noise_frame(run, meth, dict(zip(study.data.modality_names, values))), NOISE_LAYOUT,
              owner=run, context=(meth,))
    st.caption("Every position of every slider was evaluated when the model changed, so a step redraws at once. "
               "In the estimator panels the other modalities carry the slider noise while one modality's intensity "
               "runs from 1 to 11; dotted lines: each slider's maximum as an intensity. The last panel is the "
               "ceiling: an oracle that reads the noisy input's energy ‖x‖², the best per-sample ρ any estimator can "
               "reach under this noise map. An estimator far below it has not learned what the input could tell it.")
    write_link(link_params(st.session_state[f"{KEY}-dataset"]))  # the noise sliders, in the address


panel.says(run.result)
noise_view(run)
scroll_to_result(KEY)

# nothing below depends on the sliders: outside the fragment, so the live view's reruns do not redo it
st.plotly_chart(fig.alpha_figure(alpha_table(study)), key=f"{KEY}-alpha")
st.caption("α: how much the trained model relies on each modality (the fusion head's logit size with the other "
           "modalities zeroed). A modality with a small α is the one it under-uses; UDML divides by α so that "
           "this modality is not also down-weighted for its noise.")
uni = run.result.tables.get("unimodal")
if uni is not None and len(uni):
    st.plotly_chart(fig.unimodal_figure(uni), key=f"{KEY}-unimodal")
    st.caption("What to look for: a modality whose own accuracy rises late or stays low is learned slowly — "
               "the case where PE's variance weights can suppress it a second time (dual suppression).")
acc = run.result.tables["accuracy"]  # the study's own, clean weights per method and seed
weights = acc.groupby("method", sort=False)[[c for c in acc if c.startswith("weight/")]].mean()
weights.columns = [c.split("/", 1)[1] for c in weights.columns]
st.markdown("Mean weight per modality on the clean test set (1 = an equal share), mean over seeds:")
st.dataframe(weights.round(3), key=f"{KEY}-weights-table")
st.subheader("Does the paper's finding hold here?")
st.caption("Judged once, on the trained study with clean test inputs and training-like random noise (the CLI's "
           "summary.json says the same); paired over seeds: an interval that contains 0 cannot tell.")
deciding = st.session_state.get(f"{KEY}-deciding")
if st.session_state.get(f"{KEY}-deciding-error"):
    st.error(st.session_state[f"{KEY}-deciding-error"])
if deciding is not None:
    seconds = sum(deciding[1].seconds) * (deciding[0].seeds - 1)
    st.info(f"These findings are seed {study.seeds[0]}'s alone, so the comparisons cannot tell yet: seeds "
            f"{', '.join(map(str, deciding[0].seed_list()[1:]))} are training (about {seconds:.0f} s) and the page "
            "updates when they land. The figures above can be explored meanwhile.", icon=":material/hourglass_top:")
elif len(study.seeds) < 2:
    st.info("One seed: a paired comparison needs at least two, so the accuracy findings cannot tell. "
            "Raise **seeds** or press a preset (3 seeds) to judge them.")
show_findings(run.result.findings)


@st.fragment
def signal_fragment(run: UDMLRun) -> None:
    study = run.study
    levels = {k: v for k, v in current_levels(study.data.modality_names).items() if v > 0}
    signal_header("weight")
    methods = [m for m in study.methods if m != "static"] or list(study.methods)
    meth = st.selectbox("signal test of", methods, index=len(methods) - 1, key=f"{KEY}-signal-method",
                        help=f"the weights w_m of this method's seed-{study.seeds[0]} model (static fusion's are all 1)")
    seed = study.seeds[0]
    signal_section(f"{KEY}-{meth}", study.models[(meth, seed)],
                   lambda cfg: signal_test(study, meth, seed, [levels], cfg), noise_label(levels),
                   len(study.data.test), what=None)


signal_fragment(run)


@st.fragment
def attribution_fragment(run: UDMLRun) -> None:
    from fusionlab.ui.attribution import section_header
    section_header()
    methods = list(run.study.methods)
    meth = st.selectbox("which modality did it use: the model of", methods, index=len(methods) - 1,
                        key=f"{KEY}-attr-method", help=f"the seed-{run.study.seeds[0]} model of this method")
    attribution_section(run, meth)


attribution_fragment(run)

if deciding is not None:  # after the page is drawn: the remaining seeds, then the whole study's findings
    full, first_part, source = deciding
    if not running_in_background(KEY):  # trained in the background: the page (its sliders too) stays usable
        executor = page_executor()[0]  # here, not in the runner's thread (it reads the server's secrets)
        start_background(KEY, lambda progress: study_mod.run_part(full, full.seed_list()[1:], progress=progress,
                                                                  source=source, executor=executor),
                         share=share_name(KEY, full, full.seed_list()[1:], source=source))

    def landed(rest) -> None:
        st.session_state[f"{KEY}-deciding"] = None
        if not rest.stopped:
            store_run(UDMLRun(study_mod.from_parts(full, [first_part, rest], source), full))

    def failed(exc: Exception) -> None:
        st.session_state[f"{KEY}-deciding"] = None
        st.session_state[f"{KEY}-deciding-error"] = (f"The other seeds cannot train: {exc}. The figures above are "
                                                     f"seed {full.train.seed}'s.")
    follow_background(KEY, f"seeds {', '.join(map(str, full.seed_list()[1:]))} (deciding the findings)", landed,
                      failed)
