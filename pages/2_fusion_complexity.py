"""Fusion complexity

The fusion-complexity paper: does a fusion that encodes the task's structure learn from less data, and is it more fragile?
"""
import streamlit as st

from fusionlab.experiments import scaling as study
from fusionlab.figures import scaling as fig
from fusionlab.ui.findings import show_findings
from fusionlab.ui.lessons import lesson_panel
from fusionlab.ui.links import link_box, open_link
from fusionlab.ui.widgets import look_for
from fusionlab.ui.glossary import term
from fusionlab.ui.scaling import KEY, URL_PATH, bundle_controls, controls, link_params, preset_buttons
from fusionlab.ui.executor import threaded_executor
from fusionlab.ui.sharing import share_name
from fusionlab.ui.training import ask_scroll, live_run, scroll_to_result, train_buttons
from fusionlab.ui.restart import lost_notice, mark
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("Fusion complexity")
panel = lesson_panel(KEY)  # a lesson step's question, while one is open
lost_notice(KEY, "study", has_run=st.session_state.get(f"{KEY}-run") is not None)  # a run lost with a reload or a restart
st.markdown(
    f"Several {term('concat', 'fusion operators')} are trained on training sets that double in size, many "
    f"{term('seed', 'seeds')} each, all seeds in "
    "**one batched pass**. The first chart shows how much data each fusion needs (mean ± 1 sd over seeds); the "
    "robustness panels show how accuracy falls when noise is mixed into one modality or both. On the **dot** label "
    "(sign of ⟨x₁, x₂⟩) product fusion computes exactly the right features — watch whether that head start costs "
    "robustness."
)
with st.expander("Method — formulas and paper"):
    st.latex(r"\text{concat: } f = [x_1; x_2] \qquad \text{product: } F_j = a_j b_j,\; F_{n+j} = a_j b_{n+1-j}"
             r"\qquad \text{tensor: } f = \mathrm{vec}(P_1 x_1 \otimes P_2 x_2)")
    st.latex(r"\hat y = \mathrm{softmax}\big(W_2\,\mathrm{ReLU}(W_1 f + b_1) + b_2\big),\quad W_1 \in \mathbb{R}^{32\times |f|}")
    st.latex(r"y_{\mathrm{dot}} = \mathbb{1}[\langle x_1, x_2\rangle > 0] \qquad "
             r"\text{mix: } \tilde x = (1-\alpha)\,x + \alpha\, n,\; n \sim \mathcal N(\mu_m, s_m),\; \alpha \in [0, 0.95]")
    st.markdown(
        "AdamW (lr 10⁻³, weight decay 0), batch 64; each seed keeps its **best-validation epoch**. Seeds differ in "
        "initialisation and shuffle; the S seeds' parameters are stacked and trained together (identical to S "
        "sequential runs, tested). `tensor` projects each modality to 64 values first (768² features would need "
        "19 M weights per seed). The findings below are judged from the numbers of *this* run: data efficiency by "
        "the size at which a fusion first reaches half-way from chance to the best accuracy; robustness by the "
        "share of its clean above-chance accuracy a fusion loses, averaged over noise levels.  \n"
        "Paper: *Encoding Domain Insights into Multi-modal Fusion: Improved Performance at the Cost of "
        "Robustness* (the fusion-complexity paper); `clip-like` stands in for its CLIP tweet embeddings."
    )

open_link(KEY, link_params, study.DEFAULT.data.name)  # a link's settings, before the widgets are drawn
with st.container(border=True):
    st.caption("Presets: " + "; ".join(f"**{n}** ({c})" for n, (_, c) in study.PRESETS.items()))
    preset_buttons()
    cfg, source = controls()
    executor, where = threaded_executor()  # its jobs are large torch products: two threads, 1.4x faster
    st.caption(f"Its trainings run {where}, one job per setting; Stop cancels the jobs not started yet.")
    with st.container(horizontal=True, vertical_alignment="center"):
        start, _ = train_buttons(KEY, "Run study")
        link_box(KEY, URL_PATH, link_params(st.session_state[f"{KEY}-dataset"]))

if start and cfg is not None:
    try:
        result = live_run(KEY, lambda progress: study.run(cfg, progress=progress, source=source, executor=executor), "study",
                          share=share_name(KEY, cfg, source=source))
    except ValueError as exc:
        st.error(f"Cannot run this study: {exc}")
    else:
        if not result.stopped:
            st.session_state[f"{KEY}-run"] = (result, cfg)
            ask_scroll(KEY, "the-papers-findings-judged-on-this-run")

bundle_controls(st.session_state.get(f"{KEY}-run"))  # after the run, so a study run just now can be downloaded
run = st.session_state.get(f"{KEY}-run")
if run is None:
    st.info("No study yet: pick a preset or settings above and press **Run study**.")
    st.stop()
mark(KEY)
res_all, cfg_run = run
result, name = res_all.artifacts.result, res_all.artifacts.data_name
if cfg is not None and cfg != cfg_run:
    st.info("The controls above have changed since this study ran; the figures below show the last run. "
            "Press **Run study** to run the new setting.")
st.subheader("The paper's findings, judged on this run", anchor="the-papers-findings-judged-on-this-run")
scroll_to_result(KEY)
st.caption(f"{name}; fusions {', '.join(cfg_run.fusions)}; sizes {cfg_run.sizes[0]}–{cfg_run.sizes[-1]}; "
           f"{cfg_run.n_seeds} seeds; {cfg_run.train.epochs} epochs; {cfg_run.noise} noise.")
show_findings(res_all.findings)
panel.says(res_all)

left, right = st.columns([2, 1])
left.plotly_chart(fig.accuracy_vs_size(result.scores, chance=result.chance, fusions=cfg_run.fusions), key=f"{KEY}-acc")
right.plotly_chart(fig.params_bars(result.params, cfg_run.fusions), key=f"{KEY}-params")
look_for("the fusion whose curve rises first needs the least data; where the curves meet, its extra structure "
         "has stopped paying. The bars: how many weights each fusion trains.", left)
if not result.emap.empty:
    st.subheader("Which modality did each model use?", anchor="which-modality-did-it-use")
    st.plotly_chart(fig.emap_figure(result.emap, cfg_run.fusions), key=f"{KEY}-emap")
    look_for("EMAP (Hessel and Lee, EMNLP 2020) is the best sum of one part per modality that copies the model's "
             "logits on the test set. A dashed line far below its solid one: the model needs what the modalities do "
             "together. The interaction share is the part of the exact coalition terms that needs both modalities "
             "(the other at its train mean), 0 for an additive model. Product and tensor fusion's is 1, or nearly, by "
             "construction (a product feature vanishes when either modality sits at its mean, 0 after "
             "standardising), so for them read the gap. Compare the dot and real labels.")


@st.fragment
def detail_view() -> None:
    sizes = sorted(result.scores["size"].unique().tolist())
    size = st.select_slider("training size for the ROC curves", sizes, value=sizes[-1], key=f"{KEY}-roc-size")
    st.plotly_chart(fig.roc_figure(result.roc, int(size), cfg_run.fusions), key=f"{KEY}-roc")
    look_for("a curve nearer the top-left corner separates the classes better; the diagonal is chance.")
    st.plotly_chart(fig.robustness_grid(result.robustness, result.robust_size, cfg_run.fusions), key=f"{KEY}-robust")
    look_for("a fusion that falls faster as noise is mixed in has paid for its head start with robustness.")


detail_view()
