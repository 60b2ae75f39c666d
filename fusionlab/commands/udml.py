"""``udml``: the Uncertainty-weighting page's headless twin (the UDML paper, ``experiments.udml``).

Trains static / pe / udml_no_alpha / udml with ``--seeds`` seeds (S, S+1, ...) and writes
``estimator.csv`` (method, modality, injected, predicted, seed), ``weights.csv``,
``alpha.json``, ``robustness.csv``, ``unimodal.csv`` (each modality's unimodal validation
accuracy per epoch) and ``summary.json`` (Spearman ρ per method and modality, the oracle's ρ
beside them, clean and noisy accuracy and mean clean weights per method, and the paper's
findings judged from these numbers); with ``--permute-signals``, ``signal_permutation.csv``
(docs/methods.md, signal permutation test: each method's first-seed weights ``w_m`` permuted across test rows, clean and with
each modality noised up to the top training level).
"""
from __future__ import annotations

from dataclasses import replace

import argparse

COMMANDS = {"udml": "UDML vs static / PE: estimator response, weights, alpha, robustness"}


def add_parser(sub) -> None:
    from ..experiments import udml as study
    from ..models.udml import ALPHA_MODES, CHOICES, FUSIONS_ALLOWED, VARIANTS
    from ..models.udml_schedule import CLEAN_DRAWS, INTENSITY_MAPS, LABELS
    from ._common import (add_attribution_args, add_data_args, add_executor_args, add_fusion_args, add_signal_args,
                          csv_list, float_list, int_list)
    from ..train import OPTIMIZERS
    d = study.DEFAULT
    p = sub.add_parser("udml", help=COMMANDS["udml"])
    add_data_args(p, study.DATASET_NAMES, d.data.name)
    add_fusion_args(p, FUSIONS_ALLOWED)
    p.add_argument("--preset", choices=list(study.PRESETS), default=None,
                   help="start from a preset; the other flags change it")
    p.add_argument("--hard", type=str, default=None, help="synthetic: the XOR-coded (hard to learn) modality, or "
                                                          "'none' (the same as --xor)")
    p.add_argument("--epochs", type=int, default=None, help=f"default {d.train.epochs}")
    p.add_argument("--seed", type=int, default=None, help=f"first training seed (default {d.train.seed})")
    p.add_argument("--seeds", type=int, default=None, help=f"number of seeds (S, S+1, ...; default {d.seeds})")
    p.add_argument("--split-seed", type=int, default=None,
                   help=f"seeds the split and the diagnostics' test noise (default {d.split.seed})")
    p.add_argument("--clean-epochs", type=int, default=None, help=f"E1: clean epochs before the training noise "
                                                                   f"(default {d.schedule.clean_epochs})")
    p.add_argument("--weight-delay", type=int, default=None, help="the noise estimate stays out of the training weights until E1 + this "
                                                                   f"(default {d.schedule.weight_delay})")
    p.add_argument("--gamma", type=float, default=None, help=f"weight of the unimodal cross-entropies "
                                                            f"(default {d.model.gamma})")
    p.add_argument("--beta", type=float, default=None, help=f"weight of the KL term (default {d.model.beta})")
    p.add_argument("--alpha-mode", default=None, choices=ALPHA_MODES)
    p.add_argument("--intensity-map", default=None, choices=INTENSITY_MAPS,
                   help="training noise of intensity t >= 2 (t = 1 clean): 'variance' sd sqrt(t), 'sd' sd t, "
                        "'squared' sd t^2, 'linear' sd scale*(t-1); --noise-units authors replaces it")
    p.add_argument("--level-scale", type=float, default=None,
                   help="multiplies every noise sd (default 1; 0.3 for 'linear'); --noise-units authors replaces it")
    p.add_argument("--methods", type=csv_list, default=None, help=f"subset of {','.join(VARIANTS.names())}")
    p.add_argument("--fusion", default=None, choices=FUSIONS_ALLOWED,
                   help=f"how the weighted modalities are fused (default {d.model.fusion}); UDML claims to work "
                        "with any")
    p.add_argument("--test-noise", default=None, choices=study.TEST_NOISES,
                   help="the corruption the estimator-response sweep injects (default gaussian, the training noise; "
                        "the others were never seen in training: does the estimator generalise?)")
    p.add_argument("--labels", default=None, choices=LABELS,
                   help="training intensity labels drawn once per sample and kept (fixed, the authors) or redrawn "
                        f"every batch (default {d.schedule.labels})")
    from ..models.udml_schedule import NOISE_UNITS
    p.add_argument("--noise-units", default=None, choices=NOISE_UNITS,
                   help="ours: every modality's training noise by --intensity-map, always added; authors: their code's "
                        "sizes in train sd (the first modality as audio, sd t in its spectrogram's units; the second "
                        "as video, sd t^2 in pixel units; pure noise from t = 11) (default: the preset's, else ours)")
    p.add_argument("--clean-draw", default=None, choices=CLEAN_DRAWS,
                   help="which training samples stay clean: each with probability 1/2 (bernoulli) or exactly half of "
                        f"them (exact, the authors' code) (default {d.schedule.clean_draw})")
    for flag, name, helptext in (
            ("--alpha-update", "alpha_update", "alpha overwritten every step (step, the authors) or a running mean"),
            ("--alpha-features", "alpha_features", "alpha measured on the weighted features (the authors) or the "
                                                   "unweighted ones"),
            ("--aux-heads", "aux_heads", "unimodal logits from the shared fusion head with the others zeroed "
                                         "(shared, the authors) or from separate heads"),
            ("--intensity-grad", "intensity_grad", "the weights keep the estimate's gradient (keep, the authors) or "
                                                   "detach it"),
            ("--estimator-input", "estimator_input", "what the noise predictor reads: sigma (the paper), mu, or x "
                                                     "(the raw input)"),
            ("--mse-reduction", "mse_reduction", "the intensity MSE averaged over modalities (mean) or summed over "
                                                 "them (sum, the authors' code)"),
            ("--head", "head", "the fusion head: Linear-ReLU-Dropout-Linear (mlp) or one Linear (linear, the "
                               "authors' code)")):
        p.add_argument(flag, default=None, choices=CHOICES[name],
                       help=f"{helptext} (default {getattr(d.model, name)})")
    p.add_argument("--optimizer", default=None, choices=OPTIMIZERS,
                   help="adamw (default) or sgd with momentum (the authors' code: sgd, lr 1e-3, momentum 0.9)")
    p.add_argument("--lr", type=float, default=None, help=f"learning rate (default {d.train.lr})")
    p.add_argument("--momentum", type=float, default=None, help=f"sgd's momentum (default {d.train.momentum})")
    p.add_argument("--lr-steps", type=int_list, default=None,
                   help="comma-separated epoch counts after each of which the learning rate is multiplied by "
                        "--lr-decay (the authors' code: 70)")
    p.add_argument("--lr-decay", type=float, default=None, help=f"(default {d.train.lr_decay})")
    p.add_argument("--clip-norm", type=float, default=None,
                   help="clip the gradient's total norm to this before every step (the authors' code: 40)")
    p.add_argument("--alpha-init", type=float_list, default=None,
                   help="alpha before its first measurement: one value, or one per modality (default "
                        f"{','.join(f'{v:g}' for v in d.model.alpha_init)}; the authors' code: 32 for audio, 10 for "
                        "video)")
    p.add_argument("--alpha-in-warmup", default=None, choices=("on", "off"),
                   help="weight by 1/alpha during warm-up too (on, the authors) (default "
                        f"{'on' if d.model.alpha_in_warmup else 'off'})")
    add_signal_args(p)
    add_attribution_args(p)  # --attribution: of the first seed's UDML model (else the first method's)
    add_executor_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_udml)


def _given(**values):
    return {k: v for k, v in values.items() if v is not None}


def config(args: argparse.Namespace):
    """The study's config: the default (or ``--preset``), changed by every flag given."""
    from ..experiments import udml as study
    from ..models.udml import FUSIONS_ALLOWED
    from ._common import data_config, fusion_options_of, modality_list, signal_config
    base = study.PRESETS[args.preset][0] if args.preset else study.DEFAULT
    fusion = args.fusion or base.model.fusion
    if args.hard is not None:
        try:
            args.xor = modality_list(args.hard)
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--hard: {exc}") from None
    try:
        data = data_config(args, study.DATASET_NAMES, {**study.DATA_DEFAULTS, base.data.name: base.data},
                           base.data.name)
    except ValueError as exc:
        raise ValueError(f"--hard {args.hard}: {exc}" if args.hard is not None else str(exc)) from None
    return replace(base, data=data,
                   model=replace(base.model, **_given(
                       gamma=args.gamma, beta=args.beta, alpha_mode=args.alpha_mode, fusion=args.fusion,
                       fusion_options=fusion_options_of(args, fusion, FUSIONS_ALLOWED) or None,
                       alpha_update=args.alpha_update, alpha_features=args.alpha_features, aux_heads=args.aux_heads,
                       intensity_grad=args.intensity_grad, estimator_input=args.estimator_input,
                       mse_reduction=args.mse_reduction, head=args.head, alpha_init=None if args.alpha_init is None else tuple(args.alpha_init),
                       alpha_in_warmup=None if args.alpha_in_warmup is None else args.alpha_in_warmup == "on")),
                   train=replace(base.train, **_given(epochs=args.epochs, seed=args.seed, optimizer=args.optimizer,
                                                      lr=args.lr, momentum=args.momentum, lr_steps=args.lr_steps,
                                                      lr_decay=args.lr_decay, clip_norm=args.clip_norm)),
                   split=replace(base.split, **_given(seed=args.split_seed)),
                   schedule=units(replace(base.schedule, **_given(clean_epochs=args.clean_epochs,
                                                                  weight_delay=args.weight_delay,
                                                                  intensity_map=args.intensity_map,
                                                                  level_scale=args.level_scale, labels=args.labels,
                                                                  clean_draw=args.clean_draw)), args.noise_units),
                   **_given(seeds=args.seeds, methods=tuple(args.methods) if args.methods else None,
                            test_noise=args.test_noise, signals=signal_config(args)))


def units(schedule, given):
    """``schedule`` in the units ``--noise-units`` gives (None: as the preset or default has them)."""
    from ..models.udml_schedule import with_units
    return schedule if given is None else with_units(schedule, given)


def run_udml(args) -> int:
    from ..experiments import udml as study
    from ._common import (attribution_of, check_out, main_udml_model, print_findings, print_signal_table, result_set, run_with_jobs,
                          write_attribution, write_csv, write_json)
    out = check_out(args.out)
    cfg = config(args)
    result = run_with_jobs(args, study.run, cfg, "udml")
    t = result.tables
    st = result.artifacts.study
    model = main_udml_model(st, cfg.train.seed)  # UDML's, else the first method's
    att = attribution_of(args, model, st.data) if model is not None else None
    res = study.summary(result)
    with result_set(out, "udml") as d:
        write_csv(t["estimator"], d / "estimator.csv")
        write_csv(t["weights"], d / "weights.csv")
        write_json({"alpha": study.nested_means(t["alpha"], "alpha"), "per_seed": t["alpha"].to_dict(orient="records")},
                   d / "alpha.json")
        write_csv(t["robustness"], d / "robustness.csv")
        write_csv(t["unimodal"], d / "unimodal.csv")
        write_json(res, d / "summary.json")
        if "signal_permutation" in t:
            write_csv(t["signal_permutation"], d / "signal_permutation.csv")
        if att is not None:
            write_attribution(att, d)
    print_signal_table(result)
    for meth, rho in res["spearman"].items():
        print(f"spearman {meth}: " + ", ".join(f"{k} {v:.3f}" for k, v in rho.items()))
    for meth, a in res["accuracy"].items():
        print(f"accuracy {meth}: clean {a['clean']:.3f} ± {a['clean_sd']:.3f}, noisy {a['noisy']:.3f} ± {a['noisy_sd']:.3f}")
    print_findings(result.findings)
    print(f"-> {out}")
    return 0
