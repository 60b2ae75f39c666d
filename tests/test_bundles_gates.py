"""Run bundles of the Gates & values page: every model it trained (one per method and seed), reopened without
retraining; the tables regenerated from the weights equal the ones the page computed; bad bundles refused."""
import json
from dataclasses import replace

import pytest
import torch

from fusionlab import bundles
from fusionlab.commands.replay import same_tables
from test_bundles import _rezip, _weights  # tests/ is on the path (pytest's default import mode)
from fusionlab.data import DataConfig
from fusionlab.experiments import gates

CFG = replace(gates.DEFAULT, data=DataConfig("synthetic", replace(gates.VGMR_SYNTHETIC, n_samples=240)),
              train=replace(gates.DEFAULT.train, epochs=1, seed=2), seeds=2)


@pytest.fixture(scope="module")
def trained():
    data = gates.prepared(CFG)
    fit = gates.train_vgmr(CFG, data)
    models = gates.train_seeds(data, CFG.configs(), CFG.train, CFG.seed_list(), done={("vgmr", 2): fit.model})
    tables = gates.trained_tables(CFG, data, models)
    return models, data, fit, tables, bundles.save(gates.SAVING, CFG, gates.page_result(CFG, data, models, fit.history, fit.best_epoch, tables),
                                                  url="http://x/g")


def test_every_model_and_table_comes_back_without_training(trained, monkeypatch):
    models, data, fit, tables, blob = trained
    assert {"samples", "gate_stats", "removal", "robustness"} <= set(tables)  # every stage the page has
    monkeypatch.setattr(gates, "fit", lambda *a, **k: pytest.fail("reopening must not train"))
    done = bundles.reopen(gates.SAVING, blob)
    cfg, again, regenerated = done.config, done.result.artifacts.models, dict(done.result.tables)
    history, best = regenerated.pop("history"), int(regenerated.pop("best")["best_epoch"].iloc[0])
    assert cfg == CFG and set(again) == set(models) and best == fit.best_epoch
    x = {k: v[:4] for k, v in data.test.xs.items()}
    for key, model in models.items():
        model.eval()
        assert torch.equal(again[key](x).logits, model(x).logits), key
    for name, table in tables.items():
        assert same_tables(regenerated[name], table), name
    assert same_tables(history, fit.history)


def test_replay_reads_a_gates_bundle(trained, tmp_path):
    from fusionlab.cli import main
    (tmp_path / "g.zip").write_bytes(trained[4])
    assert main(["replay", str(tmp_path / "g.zip"), "--out", str(tmp_path / "out")]) == 0
    equal = json.loads((tmp_path / "out" / "equal.json").read_text())
    assert equal and all(equal.values()) and {"samples", "gate_stats", "robustness", "history"} <= set(equal)


def _sweep(raw: bytes) -> bytes:
    meta = json.loads(raw)
    meta["config"]["sweep"]["ratios"] = [i / 1000 for i in range(1000)]  # a crafted grid: minutes of work
    return json.dumps(meta).encode()


@pytest.mark.parametrize("change, match", [
    (_weights(lambda s: s.update({f"vgmr@9/{k.split('/', 1)[1]}": v.clone() for k, v in list(s.items())
                                  if k.startswith("vgmr@2/")})), r"model\(s\) \['vgmr@9'\] its config does not train"),
    (_weights(lambda s: [s.pop(k) for k in list(s) if k.startswith("vgmr@2/")]), "lacks the first VGMR model"),
    (_weights(lambda s: s.update({"loose": torch.zeros(1)})), "weight 'loose' names no model"),
    (_weights(lambda s: s.update({k: torch.zeros(3) for k in list(s)[:1]})), "has shape"),
    (lambda m: m.pop("tables/best.csv"), "lists table 'best' but the bundle has no tables/best.csv"),
    (lambda m: m.update({"tables/best.csv": b"best_epoch\n1\n2\n"}), "its one-row best-epoch table"),
    (lambda m: m.update({"tables/best.csv": b"best_epoch\ninf\n"}), "best epoch is inf, not a whole number"),
    (lambda m: m.update({"tables/history.csv": b"step\n1\n"}), "history table needs the columns"),
    (lambda m: m.update({"config.json": _sweep(m["config.json"])}), r"config.sweep.ratios has 1,000 items \(at most 256\)"),
])
def test_a_bad_gates_bundle_is_refused_in_one_line(trained, change, match):
    with pytest.raises(ValueError, match=match):
        bundles.reopen(gates.SAVING, _rezip(trained[4], change))


def test_a_playground_bundle_is_refused_on_the_gates_page(trained):
    blob = _rezip(trained[4], lambda m: m.update({"config.json": m["config.json"].replace(b'"gates"', b'"playground"')}))
    with pytest.raises(ValueError, match="this is a 'playground' bundle, not a 'gates' one"):
        bundles.reopen(gates.SAVING, blob)
