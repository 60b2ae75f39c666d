"""Run bundles of the Fusion complexity page: every fusion's and size's seeds, stacked, reopened without
retraining; the tables and findings regenerated from the weights equal the study's; bad bundles refused."""
from dataclasses import replace

import pytest
import torch

from fusionlab import bundles
from fusionlab.commands.replay import same_tables
from test_bundles import _replayed, _rezip, _weights  # tests/ is on the path (pytest's default import mode)
from fusionlab.data import ClipLikeConfig, DataConfig
from fusionlab.experiments import scaling

CFG = replace(scaling.DEFAULT, data=DataConfig("clip-like", ClipLikeConfig(n_samples=300, dim=24)), sizes=(32, 64),
              n_seeds=2, first_seed=3, levels=(0.0, 0.5), train=replace(scaling.DEFAULT.train, epochs=2))


@pytest.fixture(scope="module")
def trained():
    result = scaling.run(CFG)
    return result, bundles.save(scaling.SAVING, CFG, result, url="http://x/f")


def test_every_setting_table_and_finding_comes_back_without_training(trained, monkeypatch):
    result, blob = trained
    monkeypatch.setattr(scaling, "batched_fit", lambda *a, **k: pytest.fail("reopening must not train"))
    done = bundles.reopen(scaling.SAVING, blob)
    cfg, again = done.config, done.result
    assert cfg == CFG
    old, new = result.artifacts.params, again.artifacts.params
    assert set(new) == set(old) == {(f, n) for f in CFG.fusions for n in (32, 64)}
    for key, params in old.items():
        assert all(torch.equal(new[key][k], v) for k, v in params.items()), key
    assert set(again.tables) == set(result.tables) and len(result.tables["robustness"])
    for name, table in result.tables.items():
        assert same_tables(again.tables[name], table), name
    assert [(f.claim, f.verdict) for f in again.findings] == [(f.claim, f.verdict) for f in result.findings]


def test_replay_reads_a_scaling_bundle(trained, tmp_path):
    equal = _replayed(trained[1], tmp_path)
    assert all(equal.values()) and {"scaling", "roc", "robustness", "params"} <= set(equal)


def test_a_study_whose_weights_were_not_kept_cannot_be_saved(trained):
    result, _ = trained
    partial = replace(result, artifacts=replace(result.artifacts, params={}))
    with pytest.raises(ValueError, match="were not kept"):
        bundles.save(scaling.SAVING, CFG, partial)


@pytest.mark.parametrize("change, match", [
    (_weights(lambda s: s.update({f"concat@128/{k.split('/', 1)[1]}": v.clone() for k, v in list(s.items())
                                  if k.startswith("concat@32/")})), r"setting\(s\) \['concat@128'\] its config does"),
    (_weights(lambda s: [s.pop(k) for k in list(s) if k.startswith("tensor@64/")]), "lacks the weights of tensor@64"),
    (_weights(lambda s: s.update({k: v[:1] for k, v in list(s.items())[:1]})), r"the model needs \(2,"),
    (lambda m: m.update({"tables/scaling.csv": b"fusion,size\nconcat,32\n"}), "lacks its scaling table"),
    (lambda m: m.update({"config.json": m["config.json"].replace(b'"n_seeds": 2', b'"n_seeds": 5000')}),
     "n_seeds must be in"),
])
def test_a_bad_scaling_bundle_is_refused_in_one_line(trained, change, match):
    with pytest.raises(ValueError, match=match):
        bundles.reopen(scaling.SAVING, _rezip(trained[1], change))
