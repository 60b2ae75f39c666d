"""Run bundles of the Reliability permutation page: the frozen experts as tensors (no pickle), reopened without
refitting; the tables and findings regenerated from them equal the run's; bad bundles and unsaveable runs refused."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from fusionlab import bundles
from fusionlab.commands.replay import same_tables
from test_bundles import _replayed, _rezip, _weights  # tests/ is on the path (pytest's default import mode)
from fusionlab.data import DataConfig, SyntheticConfig
from fusionlab.experts import ExpertConfig
from fusionlab.noise import RowCorruption
from fusionlab.diagnostics.permutation import PermutationConfig
from fusionlab.experiments.permutation_runs import DiagnosticConfig
from fusionlab.experiments import permutation as study

DIAG = DiagnosticConfig(scores=("max-prob", "correctness", "control-aligned"),
                        permutation=PermutationConfig(permutations=19),
                        corruption=RowCorruption(modality="m1", fraction=0.3))
CFG = replace(study.DEFAULT, data=DataConfig("synthetic", SyntheticConfig(n_samples=300, n_modalities=3, dim=6,
                                                                          n_classes=3)), diagnostic=DIAG, seed=4)
KINDS = {"logreg": CFG,
         "mlp, in-sample": replace(CFG, diagnostic=replace(DIAG, expert=ExpertConfig(kind="mlp", hidden=8,
                                                                                       oof_folds=0, max_iter=50)))}
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # a 50-step MLP is enough here


@pytest.fixture(scope="module", params=list(KINDS))
def trained(request):
    cfg = KINDS[request.param]
    result = study.run(cfg)
    return cfg, result, bundles.save(study.SAVING, cfg, result, url="http://x/p")


def test_the_run_comes_back_without_refitting_the_experts(trained, monkeypatch):
    cfg, result, blob = trained
    monkeypatch.setattr(study, "single_run", lambda *a, **k: pytest.fail("reopening must not refit the experts"))
    import fusionlab.experts as experts
    monkeypatch.setattr(experts, "fit_experts", lambda *a, **k: pytest.fail("reopening must not refit the experts"))
    done = bundles.reopen(study.SAVING, blob)
    again_cfg, again = done.config, done.result
    assert again_cfg == cfg
    old, new = result.artifacts.bank, again.artifacts.bank
    for split in ("train", "test"):
        np.testing.assert_array_equal(new.logits[split], old.logits[split])
    assert set(again.tables) == set(result.tables) and len(result.tables["null"])
    for name, table in result.tables.items():
        assert same_tables(again.tables[name], table), name
    assert [(f.claim, f.verdict) for f in again.findings] == [(f.claim, f.verdict) for f in result.findings]


def test_replay_reads_a_permutation_bundle(trained, tmp_path):
    equal = _replayed(trained[2], tmp_path)
    assert all(equal.values()) and {"permutation", "permutation_runs", "null", "q_correct"} <= set(equal)


def test_runs_without_experts_of_ours_cannot_be_saved():
    result = study.run(CFG)
    with pytest.raises(ValueError, match="several splits"):
        bundles.save(study.SAVING, replace(CFG, repeats=2), replace(result, artifacts={}))
    with pytest.raises(ValueError, match="your own model's outputs"):
        bundles.save(study.SAVING, replace(CFG, outputs=study.OutputsConfig(path="mine.csv")), result)


@pytest.mark.parametrize("change, match", [
    (_weights(lambda s: s.pop("m2/coef")), r"missing \[.m2/coef.\]"),
    (_weights(lambda s: s.update({"m9/coef": torch.zeros(3, 6, dtype=torch.float64)})), r"unexpected \['m9/coef'\]"),
    (_weights(lambda s: s.update({"m1/coef": torch.zeros(3, 5, dtype=torch.float64)})), "the experts need"),
    (_weights(lambda s: s.update({"m1/oof": s["m1/oof"].float()})), "torch.float64"),
    (_weights(lambda s: s.update({"m1/intercept": torch.full((3,), float("nan"), dtype=torch.float64)})), "finite"),
    (_weights(lambda s: s.update({"m3/classes": torch.tensor([0, 7])})), r"names classes \[0, 7\]"),
])
def test_a_bad_permutation_bundle_is_refused_in_one_line(change, match):
    blob = bundles.save(study.SAVING, CFG, study.run(CFG))
    with pytest.raises(ValueError, match=match):
        bundles.reopen(study.SAVING, _rezip(blob, change))
