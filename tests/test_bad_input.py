"""Bad input, faults and limits (issue 18): every failure is one line naming the flag, file, column or
value, exit code 2 (130 for Ctrl-C), and nothing is left behind; result sets are whole or absent."""
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusionlab.cli import main
from fusionlab.data import load_file
from fusionlab.limits import MAX_CELLS, MAX_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def _cli(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("args, needle", [
    (["train", "--batch-size", "0"], "batch_size must be >= 1, got 0"),
    (["train", "--batch-size", "-3"], "batch_size"),
    (["permutation", "--tau", "0"], "tau must be a positive number"),
    (["permutation", "--permutations", "10000000"], "permutations must be in [1, 100,000]"),
    (["robustness", "--levels", "1e30,1e300"], "levels"),
    (["robustness", "--levels", "nan"], "levels"),
    (["train", "--dataset", "synthetic", "--samples", "0"], "--samples must be in"),
    (["udml", "--hard", "m7"], "--hard"),
    (["train", "--fusion", "zzz"], "zzz"),
    (["udml", "--hard", "zzz"], "--hard: expected modality names"),
    (["permutation", "--dataset", "uci-digits", "--views", "fou"], "with one expert every rule is the same rule"),
    (["robustness", "--levels", ",".join(["0.5"] * 101)], "at most 100"),
])
def test_bad_values_are_one_line_exit_2_and_make_no_folder(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    code, err = _cli(capsys, *args, "--out", str(out))
    assert code == 2 and needle in err and "\n" not in err and err.startswith("error:")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_constant_features_are_refused_or_named(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 120
    labels = rng.integers(0, 2, n)
    np.savez(tmp_path / "flat.npz", a=np.ones((n, 4)), b=np.zeros((n, 3)), labels=labels)
    code, err = _cli(capsys, "train", "--dataset", "file", "--file", str(tmp_path / "flat.npz"), "--epochs", "1",
                     "--out", str(tmp_path / "o1"))
    assert code == 2 and "every modality (a, b) is constant on the train rows" in err and "\n" not in err
    assert not (tmp_path / "o1").exists()
    np.savez(tmp_path / "one.npz", a=np.ones((n, 4)), b=rng.normal(size=(n, 3)), labels=labels)
    code, err = _cli(capsys, "train", "--dataset", "file", "--file", str(tmp_path / "one.npz"), "--epochs", "1",
                     "--out", str(tmp_path / "o2"))
    assert code == 0 and err == "warning: modality 'a' is constant on the train rows: it carries no information"


def test_out_is_checked_before_any_work(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out, needle in (("", "--out is empty"), (str(tmp_path / "file" / "sub"), "is a file"),
                        (str(tmp_path / "file"), "not a directory")):
        t0 = time.perf_counter()
        code, err = _cli(capsys, "train", "--epochs", "50", "--out", out)
        assert code == 2 and needle in err and time.perf_counter() - t0 < 30  # no training ran first
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, err = _cli(capsys, "train", "--out", str(other))
    assert code == 2 and "not a fusionlab result set" in err and (other / "notes.txt").read_text() == "keep me"


def test_argparse_errors_are_one_line(capsys):
    code = main(["train", "--levels"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "\n" not in err and "--levels" in err


def test_a_result_set_is_whole_and_replaces_the_old_one(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "synthetic", "--samples", "200", "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and set(manifest["files"]) == {"history.csv", "removal.csv", "metrics.json"}
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "metrics.json").stat().st_mode & 0o777 == 0o666 & ~umask  # the user's normal permissions
    assert main(args[:-2] + ["--seed", "1", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["config"]["train"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no hidden partial or old folders


def _write_loop_script(tmp_path):
    """A CLI run whose result writing stalls between two files, so a signal lands mid-write. It takes
    SIGINT as an interactive shell gives it: a pytest started from a background job without job
    control inherits SIGINT ignored, and so would the child (the fresh-clone check hung on it)."""
    script = tmp_path / "slow.py"
    script.write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import fusionlab.commands._common as c\n"
        "orig = c.write_csv\n"
        "def slow(df, path):\n"
        "    orig(df, path); print('wrote', path.name, flush=True); time.sleep(30)\n"
        "c.write_csv = slow\n"
        "from fusionlab.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    return script


@pytest.mark.parametrize("sig, code", [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)])
def test_a_run_killed_mid_write_leaves_the_old_results_or_none(tmp_path, sig, code):
    out = tmp_path / "run"
    args = ["train", "--dataset", "synthetic", "--samples", "200", "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = subprocess.Popen([sys.executable, str(_write_loop_script(tmp_path)), *args[:-2], "--seed", "3",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "wrote" in proc.stdout.readline()  # one file of the new set is on disk, in the hidden folder
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    if sig == signal.SIGINT:
        assert "Traceback" not in err and err.strip().startswith("interrupted")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old set, whole
    assert main(args) == 0  # the next run cleans the killed run's hidden folder
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".py")) == ["run"]


KILL_AT_RENAME = """
import os, signal, sys
from pathlib import Path
from fusionlab.commands import _common as c
mode, kill_at, out, value = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
if mode == "renames":
    c.exchange = lambda a, b: False  # a system without the atomic exchange: two renames
calls = [0]
def counted(f):
    def g(*a):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return f(*a)
    return g
os.rename, c.exchange = counted(os.rename), counted(c.exchange)
with c.result_set(out, "t") as d:
    (d / "v.txt").write_text(value)
"""


@pytest.mark.parametrize("mode, kill_at", [("exchange", 1), ("renames", 1), ("renames", 2)])  # at each step
def test_a_run_killed_at_any_rename_never_loses_the_old_results(tmp_path, mode, kill_at):
    script = tmp_path / "k.py"
    script.write_text(KILL_AT_RENAME)
    out = tmp_path / "sets" / "run"

    def run(kill, value):
        return subprocess.run([sys.executable, str(script), mode, str(kill), str(out), value], timeout=120).returncode

    assert run(0, "old") == 0
    assert run(kill_at, "new") == -signal.SIGKILL
    hidden = [p for p in out.parent.iterdir() if p.name.startswith(".run.old-")]
    if mode == "exchange":  # one atomic step: the name always holds a whole set
        assert (out / "v.txt").read_text() in ("old", "new") and (out / "manifest.json").exists()
    else:  # killed between the two renames: the old set waits, whole, beside it
        assert (out / "v.txt").exists() or [(p / "v.txt").read_text() for p in hidden] == ["old"]
    before = (out / "v.txt").read_text() if out.exists() else "old"
    assert run(10_000, "next") == 0  # the next run puts any waiting old set back first, then replaces it
    assert (out / "v.txt").read_text() == "next" and before in ("old", "new")
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_the_next_run_restores_a_waiting_old_set_before_it_can_fail(tmp_path):
    from fusionlab.commands._common import result_set
    out = tmp_path / "run"
    (tmp_path / ".run.old-123").mkdir()
    (tmp_path / ".run.old-123" / "v.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with result_set(out, "t"):
            raise RuntimeError("the new run fails before writing")
    assert (out / "v.txt").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# -- files --------------------------------------------------------------------------------------------
def _csv(text: str, name="f.csv"):
    return load_file(text.encode(), filename=name)


@pytest.mark.parametrize("text, needle", [
    ("a__x,labels\n1e300,0\n2,1\n3,0\n4,1\n5,0\n6,1\n", "column 'a__x' has values beyond float32"),
    ("a__x,labels\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate([1e25, -1e25] * 4)), "overflows float32"),
    ("a__x,labels\n", "header (2 columns) but no rows"),
    ("a__x,labels__y,labels\n1,2,0\n", "modality named 'labels'"),
    ("a__x,a__x,labels\n1,2,0\n", "duplicate column name"),
])
def test_bad_tables_name_the_problem(text, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        _csv(text)


def test_garbage_npz_and_object_arrays():
    with pytest.raises(ValueError, match="does not start with a zip header"):
        load_file(os.urandom(256), filename="x.npz")
    buf = io.BytesIO()
    np.savez(buf, a=np.array([{"x": 1}] * 4, dtype=object), labels=np.arange(4) % 2)
    with pytest.raises(ValueError, match="holds Python objects"):
        load_file(buf.getvalue(), filename="x.npz")


def test_a_zip_bomb_is_refused_from_its_headers():
    """A 4 GB array that compresses to a few MB: refused before it is decompressed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                       "shape": (1_000_000, 1_000)})
        with zf.open("a.npy", "w", force_zip64=True) as fh:
            fh.write(header.getvalue())
            zeros = bytes(2**20)
            for _ in range(64):  # 64 MB of the 4 GB: enough for the header to promise the rest
                fh.write(zeros)
        zf.writestr("labels.npy", b"")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="more than .* numbers|decompresses to"):
        load_file(buf.getvalue(), filename="bomb.npz")
    assert time.perf_counter() - t0 < 5


def test_a_table_too_wide_is_refused_before_parsing():
    header = ",".join(f"a__{i}" for i in range(MAX_COLUMNS + 1)) + ",labels\n"
    with pytest.raises(ValueError, match="columns, above the limit"):
        _csv(header + "0," * (MAX_COLUMNS + 1) + "0\n")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(6, 40), dims=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       nan_at=st.none() | st.tuples(st.integers(0, 39), st.integers(0, 2)),
       labels=st.sampled_from(["int", "str", "single"]))
def test_random_npz_files_load_or_fail_with_a_message(n, dims, nan_at, labels):
    rs = np.random.default_rng(n)
    arrays = {f"m{i}": rs.normal(size=(n, d)).astype(np.float32) for i, d in enumerate(dims)}
    if nan_at is not None and nan_at[0] < n and nan_at[1] < len(dims):
        arrays[f"m{nan_at[1]}"][nan_at[0], 0] = np.nan
    y = np.arange(n) % 2 if labels != "single" else np.zeros(n, int)
    arrays["labels"] = y.astype(str) if labels == "str" else y
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    try:
        ds = load_file(buf.getvalue(), filename="r.npz")
    except ValueError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg
        assert ("single class" in msg) == (labels == "single") or "NaN" in msg or "per class" in msg
        if labels != "single" and "NaN" in msg:
            assert f"'m{nan_at[1]}'" in msg
    else:
        hit = nan_at is not None and nan_at[0] < n and nan_at[1] < len(dims)
        whole_row = hit and dims[nan_at[1]] == 1  # a row that is all NaN: the modality is missing there
        assert labels != "single" and (not hit or whole_row)
        assert ds.n_samples == n and set(ds.modality_names) == {f"m{i}" for i in range(len(dims))}
        if whole_row:
            assert np.nonzero(~ds.extras[f"present_m{nan_at[1]}"])[0].tolist() == [nan_at[0]]


@settings(max_examples=25, deadline=None)
@given(names=st.lists(st.text(alphabet="ab_:.lx", min_size=1, max_size=6), min_size=1, max_size=4))
def test_random_column_names_load_or_fail_with_a_message(names):
    cols = names + ["labels"]
    df = pd.DataFrame(np.arange(6 * len(cols)).reshape(6, -1) % 2, columns=cols)
    try:
        ds = _csv(df.to_csv(index=False))
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert "labels" not in ds.modality_names and "label" not in ds.modality_names
        assert sum(v.shape[-1] for v in ds.modalities.values()) == len(names)


def test_the_limits_are_stated_in_the_docs():
    readme = (ROOT / "docs" / "serving.md").read_text()  # the limits moved from the README to docs/serving.md
    for n in (f"{MAX_CELLS:,}", f"{MAX_COLUMNS:,}", "64 MiB", "100,000"):
        assert n in readme, n
