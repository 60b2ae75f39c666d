"""A page and its CLI twin build the same config and call the same run(): the same defaults, and for one
small setting per study the same tables (issue 12). The page's result is read from its session state;
the CLI's from the CSV files it writes."""
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fusionlab.cli import build_parser, main
from fusionlab.train import TIMING

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"playground": "1_playground.py", "scaling": "2_fusion_complexity.py", "gates": "3_gates_values.py",
         "permutation": "4_reliability_permutation.py", "udml": "5_uncertainty_weighting.py"}


def _page(name: str, timeout: int = 300) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / PAGES[name]), default_timeout=timeout)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _cli_config(command: str, args: list, module):
    parsed = build_parser(command).parse_args([command, *args, "--out", "unused"])
    return module.config(parsed)


def _same(page: pd.DataFrame, cli_csv: Path, drop=()):
    cli = pd.read_csv(cli_csv)
    page = page.drop(columns=[c for c in drop if c in page]).reset_index(drop=True)
    cli = cli.drop(columns=[c for c in drop if c in cli])
    assert list(page.columns) == list(cli.columns)
    # float32 columns (model outputs) reach the CSV at float32 precision: equal to within its rounding
    pd.testing.assert_frame_equal(page, cli, check_dtype=False, check_exact=False, rtol=1e-6, atol=1e-9)


# -- the defaults -----------------------------------------------------------------------------------
@pytest.mark.parametrize("page, key, command, module, press", [
    ("playground", "playground", "train", "train", None),
    ("scaling", "fusion_complexity", "scaling", "scaling", None),
    ("gates", "gates_values", "vgmr", "vgmr", None),
    ("udml", "udml", "udml", "udml", None),
    ("permutation", "permutation", "permutation", "permutation", "permutation-train"),  # its controls follow Fit
])
def test_each_page_default_is_its_cli_default(page, key, command, module, press):
    import importlib
    cmd = importlib.import_module(f"fusionlab.commands.{module}")
    at = _page(page)
    if press:
        at.button(key=press).click().run()
        assert not at.exception
    assert at.session_state[f"{key}-config"] == _cli_config(command, [], cmd)


# -- one small setting each: identical tables ------------------------------------------------------
def test_playground_page_and_cli_give_the_same_tables(tmp_path):
    at = _page("playground")
    at.selectbox(key="playground-dataset").set_value("synthetic").run()
    at.number_input(key="playground-synthetic-n_samples").set_value(200)
    at.slider(key="playground-epochs").set_value(2)
    at.button(key="playground-train").click().run()
    assert not at.exception
    result = at.session_state["playground-run"].result
    args = ["--dataset", "synthetic", "--samples", "200", "--epochs", "2"]
    assert main(["train", *args, "--out", str(tmp_path / "t")]) == 0
    assert main(["robustness", *args, "--out", str(tmp_path / "r")]) == 0
    _same(result.tables["history"], tmp_path / "t" / "history.csv", TIMING)
    _same(result.tables["removal"], tmp_path / "t" / "removal.csv")
    _same(result.tables["robustness"], tmp_path / "r" / "robustness.csv")
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert metrics["accuracy"] == result.tables["metrics"]["accuracy"].iloc[0]


def test_fusion_complexity_page_and_cli_give_the_same_tables(tmp_path):
    k = "fusion_complexity"
    at = _page("scaling")
    at.number_input(key=f"{k}-clip-like-n_samples").set_value(300)
    at.multiselect(key=f"{k}-fusions").set_value(["concat", "product"])
    at.select_slider(key=f"{k}-max_size").set_value(64)
    at.slider(key=f"{k}-seeds").set_value(2)
    at.slider(key=f"{k}-epochs").set_value(2)
    at.checkbox(key=f"{k}-attribution").check()
    at.button(key=f"{k}-train").click().run()
    assert not at.exception
    result, _ = at.session_state[f"{k}-run"]
    assert main(["scaling", "--clip-samples", "300", "--fusions", "concat,product", "--sizes", "32-64", "--seeds", "2",
                 "--epochs", "2", "--attribution", "--out", str(tmp_path)]) == 0
    from fusionlab.commands.scaling import EMAP_COLUMNS, ROBUST_COLUMNS, SCORE_COLUMNS
    _same(result.tables["scaling"][SCORE_COLUMNS], tmp_path / "scaling.csv")
    _same(result.tables["robustness"][ROBUST_COLUMNS], tmp_path / "robustness.csv")
    _same(result.tables["emap"][EMAP_COLUMNS], tmp_path / "emap.csv")
    assert any(s.anchor == "which-modality-did-it-use" for s in at.subheader)


def test_gates_page_and_cli_give_the_same_tables(tmp_path):
    k = "gates_values"
    at = _page("gates")
    at.number_input(key=f"{k}-synthetic-n_samples").set_value(160)
    at.number_input(key=f"{k}-synthetic-seq_len").set_value(4)
    at.slider(key=f"{k}-epochs").set_value(1)
    at.button(key=f"{k}-train").click().run()
    at.button(key=f"{k}-stats").click().run()
    at.button(key=f"{k}-rob").click().run()
    assert not at.exception
    run = at.session_state[f"{k}-run"]
    assert main(["vgmr", "--samples", "160", "--seq-len", "4", "--epochs", "1", "--out", str(tmp_path)]) == 0
    for name in ("gate_stats", "removal", "robustness"):
        _same(run.tables[name], tmp_path / f"{name}.csv")


def test_permutation_page_and_cli_give_the_same_table(tmp_path):
    k = "permutation"
    at = _page("permutation")
    at.selectbox(key=f"{k}-dataset").set_value("synthetic").run()
    at.number_input(key=f"{k}-synthetic-n_samples").set_value(240)
    at.number_input(key=f"{k}-synthetic-dim").set_value(6)
    at.button(key=f"{k}-train").click().run()
    at.radio(key=f"{k}-control").set_value("control-corruption").run()
    assert not at.exception
    result = at.session_state[f"{k}-result"]
    assert main(["permutation", "--dataset", "synthetic", "--samples", "240", "--dim", "6", "--control", "corruption",
                 "--out", str(tmp_path)]) == 0
    _same(result.tables["permutation"], tmp_path / "permutation.csv")
    assert [f.line() for f in result.findings]  # the same findings the CLI printed


def test_udml_page_and_cli_give_the_same_tables(tmp_path):
    at = _page("udml")
    at.number_input(key="udml-synthetic-n_samples").set_value(200)
    at.slider(key="udml-epochs").set_value(3)
    at.slider(key="udml-seeds").set_value(1)
    at.button(key="udml-train").click().run()
    assert not at.exception
    result = at.session_state["udml-run"].result
    from fusionlab.commands import udml as cmd
    args = ["--samples", "200", "--epochs", "3", "--seeds", "1"]
    assert at.session_state["udml-config"] == _cli_config("udml", args, cmd)
    assert main(["udml", *args, "--out", str(tmp_path)]) == 0
    for name in ("estimator", "weights", "robustness"):
        _same(result.tables[name], tmp_path / f"{name}.csv")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [f["verdict"] for f in summary["findings"]] == [f.verdict for f in result.findings]
