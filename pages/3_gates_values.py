"""Gates & values

VGMR (the VGMR paper): watch, per sample, what a value-conditioned gate does when one input is corrupted.
"""
import streamlit as st

from fusionlab.diagnostics.gates import (gate_differences, gate_findings, noise_label, robustness_findings,
                                         robustness_summary, sample_table)
from fusionlab.experiments import gates as study
from fusionlab.figures import training_curves
from fusionlab.figures import vgmr as vfig
from fusionlab.models import count_parameters
from fusionlab.papers import said
from fusionlab.ui.methods import methods_link
from fusionlab.ui import vgmr as ui
from fusionlab.ui.findings import show_findings
from fusionlab.ui.lessons import lesson_panel
from fusionlab.ui.forms import load_or_error
from fusionlab.ui.links import link_box, open_link, write_link
from fusionlab.ui.live import live_view
from fusionlab.ui.sharing import share_name
from fusionlab.ui.training import ask_scroll, live_run, scroll_to_result, show_error, train_buttons
from fusionlab.ui.widgets import describe_dataset, look_for
from fusionlab.ui.restart import lost_notice, mark
from fusionlab.ui.shell import ensure_app
from fusionlab.ui.signals import signal_section

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

KEY = ui.KEY

st.title("Gates & values — a value-gated refiner before fusion")
panel = lesson_panel(KEY)  # a lesson step's question, while one is open
lost_notice(KEY, has_run=ui.current_run() is not None)  # a run lost with a reload or a restart
st.markdown(
    "**VGMR** rescales every modality's *original* features before the backbone fuses them: from summaries of all "
    "modalities it estimates a **global value** `v_g` and **channel values** `v_c` (how much impact the modality "
    "has in this context) and turns them, with the features themselves, into a gate `G_eff` per timestep and "
    "channel. Train it, pick a test sample, and drag a modality's **noise sliders**: the `G_eff` heatmap shows "
    "where the gate suppresses (< 1) or amplifies (> 1) that sample's features; `X̃ − X` is what reaches the "
    "backbone minus the input, after the LayerNorm that follows the gate, so its sign is not the gate's (a "
    "suppressed channel can still rise once the others are renormalised). Below, the same question over the whole "
    "test set, next to what the VGMR paper found.")
st.markdown(ui.PLAIN)
ui.formula_expander()

run = ui.current_run()
open_link(KEY, ui.link_params, study.DEFAULT.data.name)  # a link's settings, before the widgets are drawn
with st.container(border=True):
    data_cfg, source = ui.data_controls()
    ds = load_or_error(data_cfg, source)
    if ds is not None:
        st.markdown(describe_dataset(ds))
    ui.presets(run.data.shapes() if run else {}, ds.shapes() if ds else {}, trained=run is not None)
    cfg = ui.model_controls(data_cfg if ds is not None else None)
    with st.container(horizontal=True, vertical_alignment="center"):
        start, _ = train_buttons(KEY, "Train VGMR")
        link_box(KEY, ui.URL_PATH, ui.link_params(st.session_state[f"{KEY}-dataset"]))

if start and cfg is not None:
    try:
        data = study.prepared(cfg, source)
        result = live_run(KEY, lambda progress: study.train_vgmr(cfg, data, progress), "training VGMR",
                          share=share_name(KEY, cfg, source=source))
    except ValueError as exc:
        show_error(exc, "Training")
    else:
        if not result.stopped_by_user:
            st.session_state[f"{KEY}-run"] = ui.GatesRun(cfg, result.model, data, result.history, result.best_epoch,
                                                          models={("vgmr", cfg.train.seed): result.model})
            ask_scroll(KEY, "one-sample-one-gate")

ui.bundle_controls(ui.current_run())  # after training, so a model trained in this run can be downloaded
run = ui.current_run()
if run is None:
    st.info("No model yet: press **Train VGMR** above (the progress bar shows the epochs; Stop keeps no half-trained model).")
    st.stop()
mark(KEY)
if run.samples is None:
    run.samples = sample_table(run.model, run.data)
acc = float(run.samples["correct"].mean())
rows = f"{run.vgmr.value_rows} rows" if run.vgmr.value_rows else "all rows"
st.caption(f"VGMR (λ = {run.vgmr.lambda_amp}, ρ = {run.vgmr.rho}, value target on {rows} of each batch) on the "
           f"{run.backbone} backbone, {run.data.name}; "
           f"{count_parameters(run.model):,} parameters; best validation epoch {run.best_epoch}; "
           f"clean test accuracy {acc:.3f} on {len(run.samples)} samples.")
if ds is not None and ds.name != run.data.name:
    st.info(f"Everything below is the model trained on **{run.data.name}**; press **Train VGMR** to train one "
            f"on the selected **{ds.name}**.")
with st.expander("Training curves"):
    st.plotly_chart(training_curves(run.history), key=f"{KEY}-history")


@st.fragment
def sample_fragment(run: ui.GatesRun) -> None:
    st.subheader("One sample, one gate", anchor="one-sample-one-gate")
    names = run.data.modality_names
    first = names[0]
    info = getattr(run.config.data.options, "informativeness", None)  # a generator option: known ground truth
    if info:
        first = names[int(max(range(len(info)), key=lambda i: info[i]))]
    hint = " (the most informative modality of the generated data)" if info else ""
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    with left:
        idx = ui.sample_picker(len(run.samples))
    right.caption(f"Drag the sliders of **{first}**{hint} and watch its noised timesteps in the input heatmap "
                  "and what the gate does on them; every position was evaluated for this sample, so a step redraws "
                  "at once.")
    shapes = run.data.shapes()
    live_view(f"{KEY}-live", ui.noise_sliders(shapes),
              lambda values: ui.sample_frame(run, idx, ui.slider_noise(shapes, values)),
              ui.sample_layout(names), owner=run, context=(idx,), same=ui.same_noise, columns=2)
    with st.expander("Pick a sample from the test set (gate against global value)"):
        axis = st.selectbox("scatter: modality", names, key=f"{KEY}-scatter-modality")
        st.plotly_chart(vfig.sample_scatter(run.samples, f"{axis}_global_value", f"{axis}_gate", idx),
                        key=f"{KEY}-scatter", on_select=ui.pick_from_chart, selection_mode="points")
    write_link(ui.link_params(st.session_state[f"{KEY}-dataset"]))  # the noise sliders, in the address


sample_fragment(run)
scroll_to_result(KEY)


@st.fragment
def signal_fragment(run: ui.GatesRun) -> None:
    noise = {k: v for k, v in ui.current_noise(run.data.shapes()).items() if v[0] > 0 and v[1] > 0}
    signal_section(KEY, run.model, lambda cfg: study.signal_test(run.model, run.data, [noise], cfg,
                                                                 seed=run.config.train.seed),
                   noise_label(noise), len(run.data.test), what="gate or value")


signal_fragment(run)


@st.fragment
def attribution_fragment(run: ui.GatesRun) -> None:
    ui.attribution_section(run)


attribution_fragment(run)

st.subheader("Over the test set: clean vs corrupted (§4.4) and modality removal (§4.7)")
st.markdown(f"For each modality, {run.config.ratio:.0%} of its timesteps (entries, for vectors; rounded to whole ones) "
            "are replaced by noise "
            "(`timestep` corruption, weight 1); the table gives mean ± sd over test samples of every seed's VGMR of the "
            "global value, the channel value, the within-sample sd of the channel values and the gate `G`, clean and "
            f"corrupted. {run.config.seeds} seeds (each a fresh training with the settings above; the trained model is "
            "the first). Removal drops one modality at a time (zeros = its train mean) for the first seed's VGMR and "
            "the plain backbone, trained with the same settings.")
if st.button(f"Compute gate statistics and removal (trains VGMR × {run.config.seeds - 1} more seeds and the "
             "backbone once)", key=f"{KEY}-stats"):
    try:
        models, tables = live_run(KEY, lambda progress: study.gate_statistics(run.config, run.data, run.models,
                                                                              progress), "gate statistics")
        run.models.update(models)
        run.tables.update(tables)
    except ValueError as exc:
        show_error(exc, "The gate statistics")
if "gate_stats" in run.tables:
    stats = run.tables["gate_stats"]
    shown = ["modality", "condition"] + [c for s in ("global_value", "channel_value", "channel_sd", "gate")
                                         for c in (s, f"{s}_sd")]
    st.dataframe(stats[shown].round(3), hide_index=True, key=f"{KEY}-stats-table")
    st.markdown("Corrupted − clean:")
    st.dataframe(gate_differences(stats).round(3), hide_index=True, key=f"{KEY}-diff-table")
    st.plotly_chart(vfig.gate_stats_figure(stats), key=f"{KEY}-stats-fig")
    look_for("each bar is one statistic's corrupted − clean difference; a bar near 0 is no change.")
    st.markdown(f"**The paper**: {said('vgmr-gates')}.  \n**Here**: each statistic rose, fell or did not change "
                "by the 95% interval of its paired difference (corrupted − clean) over test samples and seeds.")
    show_findings(gate_findings(run.tables["gate_samples"]))
    panel.says(run.result(), "gate_samples")
    if run.vgmr.value_target == "sample":
        st.caption("Read the values against their target: with the per-sample target, `v_g` learns "
                   "σ(Δ/τ), how much *this* sample's loss rises when the modality is dropped. A corrupted modality "
                   "is worth less to the prediction, so a value that learned this target moves the other way from "
                   "the paper's pattern; the batch-mean target (an option above) only ranks the modalities and can "
                   "produce it.")
    clean = stats[stats["condition"] == "clean"].set_index("modality")
    st.markdown("**Health of the values**: the share of channel values `v_c` stuck below 0.01 or above 0.99 (clean "
                "inputs). A channel value that is always 0 or 1 cannot tell samples apart; with the anti-collapse "
                "term on `v_g` only, most of them end up there.")
    for col, (k, row) in zip(st.columns(len(clean)), clean.iterrows()):
        col.metric(f"{k}: saturated v_c", f"{row['channel_value_saturation']:.0%}")
    st.markdown("**What the LayerNorm after the gate erases**: LayerNorm over a timestep's channels cancels any "
                "factor the gate applies to all of them alike, so a gate that suppresses a whole timestep changes "
                "nothing the backbone sees; only contrasts between channels get through. Share of `log G_eff`'s "
                "variance that is uniform within a timestep (clean inputs)"
                + (":" if run.vgmr.norm == "post-gate" else
                   f" — this model puts its LayerNorm *{run.vgmr.norm}*, so nothing of the gate is erased:"))
    for col, (k, row) in zip(st.columns(len(clean)), clean.iterrows()):
        erased = row["layernorm_erased_share"]
        col.metric(f"{k}: erased by LayerNorm", f"{erased:.0%}")
    st.markdown("Modality removal (accuracy with each modality dropped):")
    st.dataframe(run.tables["removal"].round(3), hide_index=True, key=f"{KEY}-removal-table")

st.subheader("Robustness: VGMR vs the plain backbone (§4.8)")
st.markdown(f"Noise on all modalities at once: accuracy vs the noise ratio at weight 1, and vs the noise weight at "
            f"ratio 0.5. {run.config.seeds} seeds per method (each a fresh training with the epochs above; the first "
            "seed's models are reused); bands are ± 1 sd.")
if st.button(f"Compute robustness (trains 2 methods × {run.config.seeds} seeds)", key=f"{KEY}-rob"):
    try:
        models, tables = live_run(KEY, lambda progress: study.robustness_stage(run.config, run.data, run.models,
                                                                               progress), "robustness")
        run.models.update(models)
        run.tables.update(tables)
    except ValueError as exc:
        show_error(exc, "Robustness")
if "robustness" in run.tables:
    rob = run.tables["robustness"]
    st.plotly_chart(vfig.robustness_bands(rob), key=f"{KEY}-rob-fig")
    look_for("each band is one method's mean ± 1 sd over seeds; overlapping bands are no difference these seeds can "
             "show.")
    st.markdown(f"**The paper**: {said('vgmr-robustness')}.  \n**Here, over the whole curve**: effective "
                f"robustness ({methods_link('corruptions-and-robustness', 'Methods')}): the accuracy VGMR loses "
                "relative to clean, averaged over the grid, minus what the backbone loses, paired by seed; relative "
                "robustness is the area under each curve.")
    show_findings(robustness_findings(rob, "vgmr", run.backbone))
    panel.says(run.result(), "robustness")
    st.dataframe(robustness_summary(rob, run.backbone).round(3), hide_index=True, key=f"{KEY}-rob-summary")
