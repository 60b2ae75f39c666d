"""Arguments and output helpers shared by the subcommands.

The data arguments are generated from the registered dataset specs (``fusionlab.data.spec``): a
config field with a ``flag`` becomes that flag, so no command names a dataset, and a flag left
out keeps the study's default for the chosen dataset (``experiments.base.data_default``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

import pandas as pd

from ..data import DATASETS, DataConfig, controls, spec
from ..data.spec import kind_of
from ..options import number_text
from ..diagnostics.signals import SignalTestConfig
from ..experiments.base import Result, data_default
from ..findings import Finding
from ..findings import records as finding_records  # noqa: F401  (the commands' name for it)


def csv_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in csv_list(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got '{text}'") from exc


def float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in csv_list(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from exc


def modality_list(text: str) -> list[int]:
    """``m2`` or ``m1,m3`` (or 0-based indices) as 0-based modality indices; ``none`` is empty."""
    if text.strip().lower() == "none":
        return []
    out = []
    for t in csv_list(text):
        t = t.lower()
        if t.startswith("m") and t[1:].isdigit() and int(t[1:]) >= 1:
            out.append(int(t[1:]) - 1)
        elif t.isdigit():
            out.append(int(t))
        else:
            raise argparse.ArgumentTypeError(f"expected modality names like m2 (or 'none'), got '{text}'")
    return out


PARSERS = {"int": int, "float": float, "str": str, "path": str, "strs": csv_list, "floats": float_list,
           "modalities": modality_list}


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_data_args(p: argparse.ArgumentParser, datasets: Sequence[str], default: str) -> None:
    """``--dataset`` and every option flag of the given datasets' specs (each flag once)."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=None, help=f"one of {', '.join(datasets)} (default {default}, or the "
                                                   "preset's)")
    seen: Dict[str, list] = {}
    for name in datasets:
        for f in controls(spec(name).config):
            seen.setdefault(f.metadata["flag"], []).append((name, f))
    for flag, owners in seen.items():
        add_option_flag(g, flag, owners)
    if "--views" not in seen:
        g.add_argument("--views", type=csv_list, default=None, help="modalities to keep, e.g. m1,m2")
    settings = {m.flag: m for name in datasets for m in spec(name).settings}  # what a dataset needs of the machine
    for flag, m in settings.items():
        g.add_argument(flag, default=None, metavar=m.metavar, help=m.help.replace("%", "%%"))


def add_option_flag(g, flag: str, owners: Sequence[tuple]) -> None:
    """One flag for the option fields ``owners`` (``(owner name, field)``: the datasets or operators declaring it),
    its help each owner's own (a flag several datasets share, e.g. ``--data-seed``, says what it means for each)."""
    f = owners[0][1]
    kind = kind_of(f)
    texts = {}
    for name, own in owners:
        texts.setdefault(own.metadata["help"], []).append(name)
    if len(texts) == 1:
        helps = next(iter(texts))
    else:
        helps = "; ".join(f"{', '.join(names)}: {text}" for text, names in texts.items())
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if kind in ("int", "float") and lo is not None and hi is not None:
        helps += f" [{number_text(lo)}, {number_text(hi)}]"
    helps = helps.replace("%", "%%")  # argparse formats help with %
    if kind == "bool":
        g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=helps)
    else:
        choices = None
        if kind in ("str", "int"):
            choices = list(dict.fromkeys(c for _, own in owners for c in (own.metadata.get("choices") or ())))
        g.add_argument(flag, type=PARSERS[kind], default=None, choices=choices or None, help=helps)


def add_fusion_args(p: argparse.ArgumentParser, fusions: Sequence[str]) -> None:
    """A flag for every declared option of the operators ``fusions`` (``--tensor-append-one`` ...), generated from
    their registry entries as the data flags are from the dataset specs."""
    from ..fusion import fusion_options
    g = p.add_argument_group("fusion operator options")
    for fusion in fusions:
        cls = fusion_options(fusion)
        for f in controls(cls) if cls else ():
            add_option_flag(g, f.metadata["flag"], [(fusion, f)])


def add_option_args(p: argparse.ArgumentParser, cls: type, title: str) -> None:
    """A flag for every declared option of ``cls`` (a refiner's config), generated from its declaration."""
    g = p.add_argument_group(title)
    for f in controls(cls):
        add_option_flag(g, f.metadata["flag"], [(cls.__name__, f)])


def options_from(args: argparse.Namespace, base: Any) -> Dict[str, Any]:
    """The declared options of ``base``'s class that the flags set, as keywords for ``dataclasses.replace``."""
    return {f.name: v for f in controls(type(base)) if (v := getattr(args, _dest(f.metadata["flag"]), None)) is not None}


def fusion_options_for(args: argparse.Namespace, chosen: Sequence[str], offered: Sequence[str],
                       defaults: Mapping[str, Mapping[str, Any]] = {}) -> Dict[str, Dict[str, Any]]:
    """The options the flags set for each chosen operator (those away from their defaults: the study's, in
    ``defaults``, else the operator's); a flag of an operator that is offered but not chosen is an error naming
    both."""
    from ..fusion import check_fusion_options, fusion_options
    out: Dict[str, Dict[str, Any]] = {}
    for other in offered:
        cls = fusion_options(other)
        for f in controls(cls) if cls else ():
            value = getattr(args, _dest(f.metadata["flag"]), None)
            if value is None:
                continue
            if other not in chosen:
                raise ValueError(f"{f.metadata['flag']} is an option of fusion '{other}', not of "
                                 f"'{', '.join(chosen)}'")
            if value != defaults.get(other, {}).get(f.name, f.default):
                out.setdefault(other, {})[f.name] = value
    for fusion, options in out.items():
        check_fusion_options(fusion, options)
    return out


def fusion_options_of(args: argparse.Namespace, fusion: str, offered: Sequence[str]) -> Dict[str, Any]:
    """``fusion_options_for`` of one chosen operator: its options."""
    return fusion_options_for(args, [fusion], offered).get(fusion, {})


def data_config(args: argparse.Namespace, datasets: Sequence[str], defaults: Mapping[str, DataConfig],
                default: str) -> DataConfig:
    """The ``DataConfig`` the arguments describe: the study's default for the dataset, with every flag given;
    without ``--dataset``, ``default`` (the study's, or its preset's: a preset on another dataset was trained on the
    default one)."""
    name = args.dataset if args.dataset is not None else default
    if name not in datasets:
        DATASETS.get(name)  # an unknown name: the registry's message
        raise ValueError(f"this command takes --dataset {', '.join(datasets)}; got '{name}'")
    for m in spec(name).settings:  # the machine's, not the run's: the process's environment, checked before any work
        value = getattr(args, _dest(m.flag), None)
        if value:
            m.check(value)
            os.environ[m.env] = str(value)
    base = data_default(defaults, name)
    fields = controls(spec(name).config)
    values: Dict[str, Any] = {}
    for f in fields:
        v = getattr(args, _dest(f.metadata["flag"]), None)
        if v is not None:
            values[f.name] = tuple(v) if isinstance(v, list) else v
    try:
        cfg = replace(base, options=replace(base.options, **values)) if values else base
    except ValueError as exc:  # name the flag the user typed, not the config field behind it
        msg = str(exc)
        for f in fields:
            msg = re.sub(rf"\b{re.escape(f.name)}\b", f.metadata["flag"], msg)
        raise ValueError(msg) from None
    if not any(f.metadata["flag"] == "--views" for f in fields) and getattr(args, "views", None):
        cfg = replace(cfg, select=tuple(args.views))
    return cfg


MANIFEST = "manifest.json"  # marks a folder as a complete fusionlab result set


def check_out(path: str) -> Path:
    """Validate ``--out`` before any work starts: given, not a file, writable, and either new, empty or
    an earlier fusionlab result set (never a folder of other files, which a new set would replace)."""
    if not path or not str(path).strip():
        raise ValueError("--out is empty; give a directory for the results")
    p = Path(path).expanduser()
    here = Path.cwd().resolve()
    if p.resolve() == here or p.resolve() in here.parents:
        raise ValueError(f"--out {p} is the current folder or one of its parents; give a folder of its own")
    if p.exists() and not p.is_dir():
        raise ValueError(f"--out {p} exists and is not a directory")
    anc = p if p.exists() else next((a for a in p.parents if a.exists()), Path("."))
    if not anc.is_dir():
        raise ValueError(f"--out {p}: {anc} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=anc):
            pass
    except OSError as exc:
        raise ValueError(f"--out {p} is not writable ({anc}: {exc.strerror})") from None
    if p.is_dir() and any(p.iterdir()) and not (p / MANIFEST).is_file():
        raise ValueError(f"--out {p} holds files that are not a fusionlab result set; give a new or empty directory")
    return p


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``): a kill at any moment leaves
    each name holding one whole folder. False where the system has no such call (the caller falls back)."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if call(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL (a file system without it), EOPNOTSUPP: not available here
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def result_set(out: Path, command: str):
    """Write a command's files into a hidden sibling folder and put it in place when all are written: ``out`` holds
    the old set or the new one, whole, never a mix and never nothing. An existing set is swapped with the new one in
    one atomic exchange (``exchange``); where the system has none, by two renames, and a run killed between them
    leaves the old set in ``.out.old-PID``, which the next run into ``out`` puts back before anything else. Files get
    the user's umask."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not out.exists():
        os.rename(olds[-1], out)  # a run died between its two renames: the old set goes back in place
    for stale in [*out.parent.glob(f".{out.name}.partial-*"), *out.parent.glob(f".{out.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        files = sorted(f.name for f in tmp.iterdir())
        (tmp / MANIFEST).write_text(json.dumps({"command": command, "files": files, "complete": True}, indent=2) + "\n",
                                    encoding="utf-8")
        if out.exists() and exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old set
        elif out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old, out)  # the old set back in place
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file of a result set (the set, not the file, is what is made atomic: ``result_set``)."""
    Path(path).write_text(text, encoding="utf-8")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def write_json(obj: Dict[str, Any], path: Path) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def write_tables(result: Result, out: Path, names: Sequence[str]) -> None:
    """The named tables of ``result`` as ``<name>.csv`` in ``out``."""
    for name in names:
        if name in result.tables:
            write_csv(result.tables[name], out / f"{name}.csv")


def print_findings(findings: Sequence[Finding]) -> None:
    for f in findings:
        print(f.line())


def progress_printer(bar):
    """A study ``progress`` callback driving a tqdm bar (percent)."""

    def progress(fraction: float, message: str, epoch=None) -> None:
        bar.update(int(fraction * 100) - bar.n)
        bar.set_postfix_str(message, refresh=False)

    return progress


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """Where a multi-run study's jobs run, and the cache that makes a killed sweep resumable."""
    g = p.add_argument_group("where the jobs run")
    g.add_argument("--workers", type=int, default=0, help="run the jobs in N local worker processes (default: here)")
    g.add_argument("--scheduler", default=None, help="run the jobs on a Dask cluster: tcp://HOST:PORT (or set "
                                                     "DASK_SCHEDULER_ADDRESS)")
    g.add_argument("--cache", default=None, help="keep each finished job's tables in DIR; a sweep started again "
                                                 "runs only the missing jobs")


@contextlib.contextmanager
def executor_for(args: argparse.Namespace):
    """``(executor, where, cache)`` for the arguments; the executor is shut down afterwards."""
    from ..jobs import JobCache, executor_from
    if args.cache is not None and not str(args.cache).strip():
        raise ValueError("--cache is empty; give a directory")
    if args.cache and getattr(args, "out", None):
        cache, out = Path(args.cache).resolve(), Path(args.out).resolve()
        if cache == out or out in cache.parents:
            raise ValueError(f"--cache {args.cache} is inside --out {args.out}, which a new result set replaces; "
                             "put the cache beside it")
    executor, where, close = executor_from(args.workers, args.scheduler)
    cache = JobCache(args.cache) if args.cache else None
    try:
        yield executor, where, cache
    finally:
        close()


def run_with_jobs(args: argparse.Namespace, run, cfg, label: str, **kwargs):
    """``run(cfg, progress=, executor=, cache=, **kwargs)`` with a tqdm bar advancing per job (and per epoch
    in-process), on the executor and cache the arguments ask for."""
    from tqdm import tqdm
    bars = []  # the bar starts with the first progress: a refusal before any work is one line, no empty bar

    def progress(fraction: float, message: str, epoch=None) -> None:
        if not bars:
            print(f"jobs run {where}" + (f"; finished jobs are kept in {args.cache}" if cache else ""),
                  file=sys.stderr)
            bars.append(tqdm(total=100, desc=label, unit="%", leave=True))
        progress_printer(bars[0])(fraction, message, epoch)
    try:
        with executor_for(args) as (executor, where, cache):
            return run(cfg, progress=progress, executor=executor, cache=cache, **kwargs)
    finally:
        for bar in bars:
            bar.close()


def add_signal_args(p: argparse.ArgumentParser) -> None:
    """``--permute-signals`` and its K (docs/methods.md, signal permutation test), as every command with a gated model takes them."""
    p.add_argument("--permute-signals", action="store_true",
                   help="permute the model's learned per-sample signals across test rows (docs/methods.md, signal permutation test); "
                        "writes signal_permutation.csv")
    p.add_argument("--signal-permutations", type=int, default=SignalTestConfig().permutations,
                   help="K permutations of the signal test")


def signal_config(args):
    """The signal test's config from ``add_signal_args``' flags, or None without ``--permute-signals``."""
    return SignalTestConfig(permutations=args.signal_permutations) if args.permute_signals else None


SIGNAL_COLUMNS = ["method", "condition", "signal", "modality", "metric_clean", "metric_broken_mean", "delta", "p_value"]


def print_signal_table(result: Result) -> None:
    if "signal_permutation" in result.tables:
        t = result.tables["signal_permutation"]
        print(t[[c for c in SIGNAL_COLUMNS if c in t]].round(4).to_string(index=False))


def add_attribution_args(p: argparse.ArgumentParser, always: bool = False) -> None:
    from ..diagnostics.attribution import OUTPUTS, TARGETS
    if not always:
        p.add_argument("--attribution", action="store_true",
                       help="also write coalitions.csv, shapley.csv, interactions.csv, subsets.csv and emap.json")
    p.add_argument("--attribution-output", default="margin", choices=OUTPUTS,
                   help="a coalition's value: the logit margin of the class (default), its logit, log-probability or "
                        "probability")
    p.add_argument("--attribution-target", default="predicted", choices=TARGETS,
                   help="the class whose output is attributed: the one predicted on the full input, or the true one")
    p.add_argument("--at", action="append", default=[], metavar="MODALITY=LEVEL",
                   help="corrupt the test set with --noise (mix where the command has none) at this level on this "
                        "modality before attributing (repeat for several)")


def attribution_of(args, model, data):
    """The attribution the arguments ask for (``--attribution``, or the ``attribution`` command), of ``model`` on
    ``data``'s test set corrupted as ``--at`` says; None if not asked."""
    if not (getattr(args, "attribution", False) or args.command == "attribution"):
        return None
    from ..diagnostics.attribution import AttributionConfig, attribute_data
    levels = {}
    for item in args.at:
        name, _, level = item.partition("=")
        try:
            levels[name.strip()] = float(level)
        except ValueError:
            raise ValueError(f"--at {item}: expected MODALITY=LEVEL, e.g. pix=0.5") from None
    unknown = [k for k in levels if k not in data.modality_names]
    if unknown:
        raise ValueError(f"--at names '{unknown[0]}', not a modality of the data ({', '.join(data.modality_names)})")
    seed = getattr(args, "seed", None)
    seed = 0 if seed is None else int(seed)  # a command whose --seed defaults to its study's (None) draws with 0
    cfg = AttributionConfig(output=args.attribution_output, target=args.attribution_target, seed=seed)
    return attribute_data(model, data, levels, getattr(args, "noise", "mix"), seed, cfg)


def read_bundle_file(path: str) -> bytes:
    """A bundle's bytes, its size checked before it is read (a bundle is at most an upload's 64 MiB)."""
    from ..limits import MAX_FILE_BYTES
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {p}")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{p.name} is {size / 2**20:,.0f} MiB; a run bundle is at most {MAX_FILE_BYTES // 2**20} MiB")
    return p.read_bytes()


def main_udml_model(study, seed: int):
    """The UDML study's model the commands attribute: UDML's of ``seed``, else its first method's (None: none)."""
    main = next((m for m in ("udml", *study.methods) if (m, seed) in study.models), None)
    return study.models[(main, seed)] if main else None


def bundle_model(path: str):
    """The model a run bundle holds, the data it was measured on (rebuilt without retraining) and the run's seed (its
    page's noise draws): the Playground's model, the first VGMR of Gates & values, the first seed's UDML model of
    Uncertainty weighting."""
    from ..bundles import read_bundle, reopen
    from ..experiments import gates, playground, udml
    raw = read_bundle_file(path)
    kind = read_bundle(raw).kind
    studies = {m.SAVING.kind: m for m in (playground, gates, udml)}
    if kind not in studies:
        raise ValueError(f"attribution --bundle reads bundles of {', '.join(studies)}; this one is a '{kind}' run "
                         "(a fusion-complexity study attributes its models with scaling --attribution)")
    done = reopen(studies[kind].SAVING, raw)
    a, seed = done.result.artifacts, done.config.train.seed
    if kind == "playground":
        return a.model, a.data, seed
    if kind == "gates":
        return a.models[("vgmr", seed)], a.data, seed
    return main_udml_model(a.study, seed), a.study.data, seed


def write_attribution(att, d) -> None:
    """The attribution's files: coalitions.csv, shapley.csv, interactions.csv, subsets.csv, emap.json."""
    write_csv(att.coalitions, d / "coalitions.csv")
    write_csv(att.shapley, d / "shapley.csv")
    write_csv(att.interactions, d / "interactions.csv")
    write_csv(att.subsets, d / "subsets.csv")
    write_json(att.emap, d / "emap.json")
