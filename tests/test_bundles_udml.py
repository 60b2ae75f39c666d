"""Run bundles of the Uncertainty weighting page: every method's and seed's model, reopened without retraining;
the tables and findings regenerated from the weights equal the trained study's; bad bundles refused."""
from dataclasses import replace

import pytest
import torch

from fusionlab import bundles
from fusionlab.commands.replay import same_tables
from test_bundles import _replayed, _rezip, _weights  # tests/ is on the path (pytest's default import mode)
from fusionlab.data import DataConfig
from fusionlab.experiments import udml

CFG = replace(udml.DEFAULT, data=DataConfig("synthetic", replace(udml.DEFAULT.data.options, n_samples=200)),
              train=replace(udml.DEFAULT.train, epochs=2, seed=1), methods=("static", "udml"), seeds=2)


@pytest.fixture(scope="module")
def trained():
    result = udml.run(CFG)
    return result, bundles.save(udml.SAVING, CFG, result, url="http://x/u")


def test_every_model_table_and_finding_comes_back_without_training(trained, monkeypatch):
    result, blob = trained
    monkeypatch.setattr(udml, "fit", lambda *a, **k: pytest.fail("reopening must not train"))
    done = bundles.reopen(udml.SAVING, blob)
    cfg, again = done.config, done.result
    assert cfg == CFG
    old, new = result.artifacts.study, again.artifacts.study
    assert set(new.models) == set(old.models) == {(m, s) for m in CFG.methods for s in (1, 2)}
    x = {k: v[:4] for k, v in old.data.test.xs.items()}
    for key, model in old.models.items():
        model.eval()
        assert torch.equal(new.models[key](x).logits, model(x).logits), key
    assert set(again.tables) == set(result.tables)
    for name, table in result.tables.items():
        assert same_tables(again.tables[name], table), name
    assert [(f.claim, f.verdict) for f in again.findings] == [(f.claim, f.verdict) for f in result.findings]


def test_replay_reads_a_udml_bundle(trained, tmp_path):
    equal = _replayed(trained[1], tmp_path)
    assert all(equal.values()) and {"estimator", "weights", "accuracy", "unimodal", "history"} <= set(equal)


@pytest.mark.parametrize("change, match", [
    (_weights(lambda s: s.update({f"pe@1/{k.split('/', 1)[1]}": v.clone() for k, v in list(s.items())
                                  if k.startswith("static@1/")})), r"model\(s\) \['pe@1'\] its config does not train"),
    (_weights(lambda s: [s.pop(k) for k in list(s) if k.startswith("udml@2/")]), r"lacks the model\(s\) \['udml@2'\]"),
    (_weights(lambda s: s.update({k: torch.zeros(3) for k in list(s)[:1]})), "has shape"),
    (lambda m: m.update({"tables/history.csv": b"step\n1\n"}), "lacks its history table"),
    (lambda m: m.update({"config.json": m["config.json"].replace(b'"seeds": 2', b'"seeds": "2"')}),
     "config.seeds must be int"),
])
def test_a_bad_udml_bundle_is_refused_in_one_line(trained, change, match):
    with pytest.raises(ValueError, match=match):
        bundles.reopen(udml.SAVING, _rezip(trained[1], change))
