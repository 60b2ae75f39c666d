"""The headless twin: subcommands, outputs, and one-line errors with exit code 2."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from fusionlab.cli import build_parser, main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fusionlab", *args], capture_output=True, text=True, timeout=600)


def test_help_lists_every_command_module():
    import pkgutil
    from fusionlab import commands
    proc = _run("--help")
    assert proc.returncode == 0
    sub = build_parser()._subparsers._group_actions[0].choices
    assert {"train", "robustness"} <= set(sub)
    for name in sub:
        assert name in proc.stdout
    assert len([m for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]) >= 1


def test_train_writes_metrics_and_history(tmp_path):
    rc = main(["train", "--dataset", "synthetic", "--samples", "200", "--epochs", "2", "--seed", "0",
               "--out", str(tmp_path)])
    assert rc == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "config"} <= set(metrics)
    assert metrics["config"]["train"]["epochs"] == 2
    hist = pd.read_csv(tmp_path / "history.csv")
    assert list(hist["epoch"]) == [1, 2]
    assert not list(tmp_path.glob(".*.tmp"))


def test_robustness_csv_columns(tmp_path):
    rc = main(["robustness", "--dataset", "synthetic", "--samples", "200", "--modalities", "2", "--epochs", "2",
               "--noise", "gaussian", "--levels", "0,1,2", "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_csv(tmp_path / "robustness.csv")
    assert list(df.columns) == ["fusion", "condition", "noise", "level", "accuracy", "seed"]
    assert set(df["condition"]) == {"m1", "m2", "all"} and len(df) == 9


@pytest.mark.parametrize("args,needle", [
    (["train", "--views", "pix,zzz", "--out", "OUT"], "zzz"),
    (["train", "--dataset", "file", "--file", "/no/such.npz", "--out", "OUT"], "no such file"),
    (["train", "--dataset", "nope", "--out", "OUT"], "nope"),
    (["train", "--epochs", "0", "--out", "OUT"], "epochs"),
    (["train", "--fusion", "zzz", "--out", "OUT"], "zzz"),
    (["robustness", "--levels", "a,b", "--out", "OUT"], "numbers"),
])
def test_bad_arguments_exit_2_without_traceback(tmp_path, args, needle):
    args = [a.replace("OUT", str(tmp_path / "o")) for a in args]
    proc = _run(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and needle in proc.stderr
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_bad_file_contents_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a__x,labels\n1,0\n2,0\n3,0\n")
    proc = _run("train", "--dataset", "file", "--file", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "single class" in proc.stderr and "Traceback" not in proc.stderr


def test_every_command_prints_its_help(capsys):
    from fusionlab.cli import command_table
    for name in command_table():
        assert main([name, "--help"]) == 0, name
        text = capsys.readouterr().out
        assert "--out" in text or "--export" in text, name  # where its files go (lessons: --export DIR)
