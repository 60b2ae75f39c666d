"""The glossary: every symbol and abbreviation the pages use, in plain words (issue 17, teaching aids).

A symbol can mean different things on different pages (β is VGMR's value-loss weight and UDML's KL weight),
so entries are grouped by page and each has its own anchor. ``term(anchor)`` is a markdown link to an entry
for a page's first use of the symbol; links open in a new tab, so the page and its trained model stay.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from ..fusion import FUSIONS

URL_PATH = "glossary"

# section -> [(anchor, symbol, plain words)]
OPERATOR_TERMS = [(f"op-{name}", f"{name} (fusion operator)", FUSIONS.doc(name).replace("*", "·"))  # a * is
                  for name in FUSIONS.names()]  # markdown's italics, not a product, on the page

TERMS: Dict[str, List[Tuple[str, str, str]]] = {
    "Everywhere": [
        ("modality", "modality, view", "one kind of input about the same sample: text, audio, video, a sensor, or one "
                                       "feature view of a digit (pix = pixels, fou = Fourier coefficients, kar = "
                                       "Karhunen–Loève coefficients, mor = morphological features, fac, zer)"),
        ("fusion", "fusion", "combining the modalities into one decision; early (features) or late (decisions)"),
        ("accuracy", "accuracy", "the share of test samples whose predicted class is right"),
        ("ba", "BA, balanced accuracy", "the accuracy of each class, averaged over classes: a model that always says "
                                        "the majority class gets 1/(number of classes), however unbalanced the data"),
        ("f1", "F1, macro-F1", "per class the harmonic mean of precision and recall, averaged over classes"),
        ("roc", "ROC, AUC", "the receiver operating characteristic curve (true against false positives as the "
                            "threshold moves) and the area under it: 0.5 is chance, 1 is perfect"),
        ("seed", "seed", "the number every random choice starts from: the same seed gives the same split, "
                         "initial weights, batches and noise, so the same model"),
        ("noise", "noise types", "gaussian: x + level·s·ε; mix: (1 − α)x + α·n with n random data of the train "
                                 "split's mean and sd; additive: x + α·n; timestep: some timesteps replaced by "
                                 "noise; drop: the whole modality set to its train mean; missing: a share of "
                                 "samples lose the modality"),
        ("chance", "chance", "the accuracy of guessing: 1/(number of classes) for balanced classes"),
        ("delta_perm_any", "Δ, p (permutation tests)", "Δ = the metric with the real thing minus its mean after "
                           "shuffling that thing across test samples K times; p = (1 + number of shuffles that did "
                           "at least as well) / (K + 1). Large Δ with small p: the decision depends on it"),
        ("perceptual", "perceptual score", "Δ of a permutation test that shuffles one modality's inputs across test "
                                           "samples: how much the trained model uses that modality at all"),
        ("relative_robustness", "relative robustness", "the area under a model's accuracy-vs-noise curve divided by "
                                                       "the width of the noise range: its average accuracy under noise"),
        ("effective_robustness", "effective robustness", "how much less accuracy a model loses under noise than a "
                                                         "baseline does, averaged over the noise levels (positive: "
                                                         "more robust than the baseline)"),
    ],
    "Playground": [
        ("h_m", "h_m", "modality m's encoded feature vector (the encoder's output, mean over time for sequences)"),
        ("gate", "z (gate)", "the gated fusion's per-sample weight of each modality, between 0 and 1"),
        ("contribution", "contribution", "how much the probability of the predicted class falls when one modality "
                                         "is set to its train mean (dropped)"),
        ("coalition", "coalition", "a set of modalities kept as they are, the others set to their train mean; with "
                                   "M modalities there are 2^M of them, from none to all"),
        ("shapley", "Shapley value φ", "a modality's share of a sample's output: what adding it to a coalition "
                                       "changes, averaged over every order in which the modalities could be added; "
                                       "the shares add up to the output with all modalities minus with none"),
        ("interaction", "interaction, interaction share", "what the modalities do together beyond the sum of what "
                                                          "each does alone; the share of the output's variation that "
                                                          "is such joint effect (0: the model is additive)"),
        ("emap", "EMAP", "the best additive copy of a model (each modality's average effect, summed): its accuracy "
                         "beside the model's says how much the model relies on cross-modal interactions"),
        ("subsets", "subset table", "the model's accuracy with each coalition of modalities kept: how it copes with "
                                    "any combination of missing modalities"),
        *OPERATOR_TERMS,
    ],
    "Fusion complexity": [
        ("concat", "concat, product, tensor", "three fusions of increasing complexity: concatenate the vectors; "
                                              "multiply them elementwise; take the outer product (all pairwise "
                                              "interactions)"),
        ("data_efficiency", "data efficiency", "the training size at which a fusion first gets half-way from chance "
                                               "to the best accuracy"),
        ("robustness", "robustness", "the share of its clean above-chance accuracy a fusion keeps under noise"),
    ],
    "Gates & values": [
        ("vgmr", "VGMR", "value-gated multimodal refiner: before fusion, it scales each modality's features by a gate "
                         "that depends on how valuable the modality looks for this sample"),
        ("v_g", "v_g (global value)", "one number per sample and modality in (0, 1): how much the modality is worth "
                                      "for this sample"),
        ("v_c", "v_c (channel values)", "one number per sample, modality and feature channel: which channels are worth "
                                        "keeping"),
        ("G", "G (gate)", "the gate per timestep and channel, built from v_g, v_c and how the modality agrees with the "
                          "others"),
        ("x_tilde", "X̃ (refined input)", "what VGMR hands the backbone: the input scaled by the gate G_eff (and "
                                          "normalised by the LayerNorm); X̃ − X is what the refiner changed"),
        ("G_eff", "G_eff (effective gate)", "the gate actually applied: ρ + (1 − ρ)·G_amp with G_amp = 1 + λ(2G − 1), "
                                            "so ρ of the input passes whatever G says"),
        ("lambda", "λ (amplification)", "how far the gate may move away from 1: 0 makes G_eff = 1 (no gating)"),
        ("rho_vgmr", "ρ (residual retention)", "the share of the input kept whatever the gate says"),
        ("layernorm", "LN, LayerNorm", "rescales each timestep's channels to mean 0 and sd 1; after the gate it undoes "
                                       "any suppression that is the same across a timestep's channels"),
        ("value_target", "Δ (value target)", "what the values learn: a sample's loss with the modality dropped minus its "
                                             "loss with all inputs, squashed by σ(Δ/τ)"),
        ("tau_vgmr", "τ (temperature)", "how sharply σ(Δ/τ) turns a loss increase into a value near 1"),
        ("beta_vgmr", "β, γ (VGMR)", "the weights of the value loss and of the anti-collapse term in the total loss"),
        ("kappa", "κ", "the smallest spread across samples the values may have before the anti-collapse term pushes"),
        ("saturation", "saturated share", "the share of channel values below 0.01 or above 0.99: values stuck at 0 or "
                                          "1 carry no per-sample information"),
    ],
    "Reliability permutation": [
        ("expert", "expert", "a classifier trained on one modality alone and then frozen"),
        ("q", "Q (quality score)", "a per-sample number in [0, 1] saying how reliable a modality's expert is on this "
                                   "sample, computed without the test label"),
        ("k", "K", "the number of random shuffles of Q across test samples"),
        ("delta_perm", "Δ_perm", "fused balanced accuracy with the real Q minus its mean over the K shuffled Qs: "
                                 "how much the rule uses Q"),
        ("p", "p", "(1 + number of shuffles whose accuracy was at least the real one) / (K + 1); the smallest "
                   "possible value is 1/(K + 1)"),
        ("headroom", "headroom", "balanced accuracy of an oracle that picks a correct expert whenever one exists, minus "
                                 "the rule's: what a perfect Q could gain"),
        ("rho", "ρ (Q–correctness)", "the correlation of Q with whether the expert was right, averaged over modalities"),
        ("competitiveness", "competitiveness", "top-1 minus top-2 confidence in the true class among the experts, the "
                                               "median over test rows (and over runs, as the authors report it; the "
                                               "mean is competitiveness_mean): how far apart the experts are, so how "
                                               "much Q could matter"),
        ("rules", "noq, weighted, softmax, route, moe", "fusion rules: plain mean of the experts' posteriors (ignores "
                                                        "Q); weights Q/ΣQ; weights softmax(Q/τ); the expert with the "
                                                        "highest Q; a learned router on [availability; Q]"),
        ("tau_perm", "τ (softmax rule)", "the softmax rule's temperature: small τ puts nearly all weight on the "
                                         "highest Q"),
        ("control", "positive control", "a Q built from the test labels on purpose, to show what a Q that matters "
                                        "looks like; never a real result"),
        ("fidelity", "fidelity (control-aligned)", "how much of the correctness-aligned control's Q is the truth: "
                                                   "Q = fidelity·1[expert correct] + (1 − fidelity)·random; 1 is a "
                                                   "perfect Q, 0 a random one"),
        ("rate", "rate k (control-corruption)", "the share of test rows where the corruption control makes one expert "
                                                "confidently wrong and gives it Q = 0"),
        ("scores", "pca-recon, max-prob, energy, correctness, user", "quality scores: low PCA reconstruction error; "
                   "the expert's top probability; log Σ exp(logits); a learned predictor of the expert being right; "
                   "your own Q"),
        ("present", "present, missing", "whether a modality exists for a sample; a missing one gets no say"),
    ],
    "Uncertainty weighting": [
        ("udml", "UDML", "Unbiased Dynamic Multimodal Fusion (the UDML paper): weights each modality by how noisy it looks "
                         "for this sample, corrected by how much the model depends on it"),
        ("pe", "PE", "probabilistic embedding: each modality's embedding is a mean μ and a spread σ"),
        ("mu_sigma", "μ, σ", "the embedding's mean and spread; a large σ means an uncertain (noisy) input"),
        ("t", "t (intensity)", "the injected noise level of a training sample's modality, 1 = clean to 11"),
        ("s_hat", "ŝ", "the model's estimate of that noise intensity"),
        ("alpha", "α (dependency)", "how much the model relies on a modality; UDML's weight is 1/(ŝ²·α), so a "
                                    "modality the model barely relies on (small α: often one that is hard to "
                                    "learn) is not punished a second time by a high noise estimate"),
        ("e1", "E₁", "the first epochs, trained on clean data only"),
        ("gamma_udml", "γ (UDML)", "the weight of each modality's own classifier in the loss"),
        ("beta_udml", "β (UDML)", "the weight of the KL term that pulls σ toward the injected noise"),
        ("static", "static", "every modality weighted 1: the baseline"),
        ("spearman", "Spearman ρ", "the rank correlation between the noise a method estimates and the noise "
                                   "injected: 1 when the estimate orders every sample as the true noise does, 0 when "
                                   "it is unrelated"),
        ("oracle", "oracle ‖x‖²", "the ceiling of the estimator plot: the squared size of the noisy input itself, "
                                  "which grows with the injected noise; what an estimator could read at best"),
    ],
}


def term(anchor: str, text: str = "") -> str:
    """A markdown link to the glossary entry ``anchor`` (opens in a new tab)."""
    for entries in TERMS.values():
        for a, symbol, _ in entries:
            if a == anchor:
                return f"[{text or symbol}](/{URL_PATH}#{anchor})"
    raise KeyError(f"no glossary entry '{anchor}'")


def anchors() -> List[str]:
    return [a for entries in TERMS.values() for a, _, _ in entries]
