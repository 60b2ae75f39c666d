"""Run bundles (issue 17 item 4): a trained run saved as one zip, reopened without retraining, its tables
regenerated equal to the originals; a bad bundle is refused with one line, and nothing is unpickled."""
import io
import json
import zipfile
from dataclasses import replace

import pytest
import torch

from fusionlab import bundles
from fusionlab.bundles import config_from_record, read_bundle
from fusionlab.commands.replay import same_tables
from fusionlab.data import DataConfig, SyntheticConfig
from fusionlab.experiments import playground
from fusionlab.experiments.base import record
from fusionlab.experiments.playground import PlaygroundConfig

CFG = replace(playground.DEFAULT, data=DataConfig("synthetic", SyntheticConfig(n_samples=240, dim=6)),
              train=replace(playground.DEFAULT.train, epochs=2, seed=4))


@pytest.fixture(scope="module")
def trained():
    result = playground.run(CFG)
    return result, bundles.save(playground.SAVING, CFG, result, url="http://x/playground?epochs=2")


def test_a_config_survives_its_record_and_refuses_unknown_keys():
    assert config_from_record(PlaygroundConfig, record(CFG)) == CFG
    bad = record(CFG)
    bad["train"]["epochz"] = 3
    with pytest.raises(ValueError, match=r"config.train has unknown key\(s\) \['epochz'\]"):
        config_from_record(PlaygroundConfig, bad)
    bad = record(CFG)
    bad["train"]["epochs"] = "many"
    with pytest.raises(ValueError, match="config.train.epochs must be int"):
        config_from_record(PlaygroundConfig, bad)


def test_a_bundle_reopens_without_training_and_its_tables_equal_the_originals(trained, monkeypatch):
    result, data = trained
    monkeypatch.setattr(playground, "fit", lambda *a, **k: pytest.fail("reopening must not train"))
    done = bundles.reopen(playground.SAVING, data)
    again, cfg = done.result, done.config
    assert cfg == CFG
    for name, table in result.tables.items():
        assert same_tables(again.tables[name], table), name
    x = {k: v[:5] for k, v in result.artifacts.data.test.xs.items()}
    result.artifacts.model.eval()
    assert torch.equal(again.artifacts.model(x).logits, result.artifacts.model(x).logits)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        assert {"config.json", "weights.safetensors", "tables/metrics.csv", "tables/history.csv"} <= names
        assert json.loads(z.read("config.json"))["url"] == "http://x/playground?epochs=2"


def test_the_replay_command_regenerates_the_tables(trained, tmp_path):
    from fusionlab.cli import main
    (tmp_path / "run.zip").write_bytes(trained[1])
    assert main(["replay", str(tmp_path / "run.zip"), "--out", str(tmp_path / "out")]) == 0
    assert all(json.loads((tmp_path / "out" / "equal.json").read_text()).values())
    assert (tmp_path / "out" / "robustness.csv").exists()


def _rezip(data: bytes, change) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, v in members.items():
            z.writestr(n, v)
    return out.getvalue()


def _weights(change):
    from safetensors.torch import load, save

    def go(members):
        state = load(members["weights.safetensors"])
        change(state)
        members["weights.safetensors"] = save(state)
    return go


def _replayed(blob: bytes, tmp_path) -> dict:
    """``python -m fusionlab replay`` of a bundle: its exit code must be 0; returns ``equal.json``."""
    from fusionlab.cli import main
    (tmp_path / "run.zip").write_bytes(blob)
    assert main(["replay", str(tmp_path / "run.zip"), "--out", str(tmp_path / "out")]) == 0
    return json.loads((tmp_path / "out" / "equal.json").read_text())


def _with_meta(key, value):
    def change(m):
        meta = json.loads(m["config.json"])
        meta[key] = value
        m["config.json"] = json.dumps(meta).encode()
    return change


def _shrunk_weights(m):
    from safetensors.torch import load, save
    state = load(m["weights.safetensors"])
    k = next(iter(state))
    state[k] = state[k][..., :1].contiguous()
    m["weights.safetensors"] = save(state)


@pytest.mark.parametrize("change,match", [
    (lambda m: m.update({"evil.pkl": b"\x80\x04"}), r"unexpected member\(s\) \['evil.pkl'\]"),
    (lambda m: m.pop("weights.safetensors"), "no weights.safetensors"),
    (_with_meta("extra", 1), "exactly the keys"),
    (_with_meta("kind", "udml"), "a 'udml' bundle, not a 'playground' one"),
    (_shrunk_weights, "has shape"),
    (lambda m: m.update({"weights.safetensors": b"garbage"}), "weights.safetensors is not readable"),
])
def test_a_bad_bundle_is_refused_with_one_line(trained, change, match):
    with pytest.raises(ValueError, match=match) as info:
        bundles.reopen(playground.SAVING, _rezip(trained[1], change))
    assert "\n" not in str(info.value)


def test_a_zip_bomb_is_refused_from_its_directory():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b"{}")
        z.writestr("tables/big.csv", b"0" * (300 * 2**20))  # 300 MB of zeros: a few hundred kB zipped
    with pytest.raises(ValueError, match="decompresses to"):
        read_bundle(out.getvalue())


@pytest.mark.parametrize("change,match", [
    (_with_meta("tables", 5), "'tables' must be a list of names"),
    (lambda m: m.update({"tables/metrics.csv": b"accuracy\n0.5\n"}), "one-row metrics table with best_epoch"),
    (lambda m: m.update({"tables/metrics.csv": b"best_epoch,best_val_accuracy\n"}), "one-row metrics table"),
])
def test_a_malformed_bundle_is_a_one_line_error_not_a_traceback(trained, change, match):
    with pytest.raises(ValueError, match=match):
        bundles.reopen(playground.SAVING, _rezip(trained[1], change))


def test_a_bundle_whose_setting_the_page_cannot_show_is_refused_and_its_link_is_the_runs():
    from fusionlab.ui.links import checked_state
    from fusionlab.ui.links import run_url
    from fusionlab.ui.playground import URL_PATH, link_params, widget_state

    def run_link(cfg):
        return run_url(URL_PATH, link_params(cfg.data.name), widget_state(cfg), {})
    checked_state(link_params(CFG.data.name), widget_state(CFG))  # the test config fits the page
    with pytest.raises(ValueError, match="its epochs = 150 is beyond this page's controls"):
        checked_state(link_params(CFG.data.name), widget_state(replace(CFG, train=replace(CFG.train, epochs=150))))
    assert "epochs=2" in run_link(CFG) and "seed=4" in run_link(CFG) and "dataset=synthetic" in run_link(CFG)


# -- hostile bundles (issue 32): each refused with one line before anything large is read, parsed or built ----------
def _raw_zip(members, method=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


def _patch_central(blob: bytes, name: str, offset: int, value: bytes) -> bytes:
    """``blob`` with ``value`` written at ``offset`` of ``name``'s central-directory entry (and, for the fields the
    local header repeats, there too)."""
    b = bytearray(blob)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        local = z.getinfo(name).header_offset
    start = b.index(b"PK\x01\x02" + bytes(0))  # the first central entry
    while True:
        n = int.from_bytes(b[start + 28:start + 30], "little")
        if bytes(b[start + 46:start + 46 + n]) == name.encode():
            break
        start = b.index(b"PK\x01\x02", start + 4)
    b[start + offset:start + offset + len(value)] = value
    local_offset = {8: 6, 10: 8, 16: 14, 20: 18, 24: 22}.get(offset)  # flags, method, crc, sizes
    if local_offset is not None:
        b[local + local_offset:local + local_offset + len(value)] = value
    return bytes(b)


def _bad_crc(blob: bytes) -> bytes:
    b = bytearray(blob)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        info = z.getinfo("config.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    b[start + 2] ^= 0xFF  # a byte of the stored data: its CRC no longer matches
    return bytes(b)


def _bundle_members(trained):
    with zipfile.ZipFile(io.BytesIO(trained[1])) as z:
        return [(n, z.read(n)) for n in z.namelist()]


@pytest.mark.parametrize("make, match", [
    (lambda m: _raw_zip(m + [m[0]]), "holds the member 'config.json' twice"),
    (lambda m: _bad_crc(_raw_zip(m)), "member 'config.json' cannot be read"),
    (lambda m: _patch_central(_raw_zip(m), "config.json", 8, (1).to_bytes(2, "little")), "is encrypted"),
    (lambda m: _patch_central(_raw_zip(m), "config.json", 10, (9).to_bytes(2, "little")), "compression method 9"),
    (lambda m: _raw_zip([("config.json", b"[" * 100_000 + b"]" * 100_000)] + m[1:]), "nests deeper"),
])
def test_a_crafted_zip_is_one_line(trained, make, match):
    with pytest.raises(ValueError, match=match) as info:
        read_bundle(make(_bundle_members(trained)))
    assert "\n" not in str(info.value)


def test_a_member_that_understates_its_size_is_stopped_while_it_inflates(trained):
    members = _bundle_members(trained)
    big = b"\0" * (300 * 2**20)  # 300 MB of zeros: ~300 kB deflated
    blob = _raw_zip([(n, big if n == "weights.safetensors" else d) for n, d in members], zipfile.ZIP_DEFLATED)
    for claimed in (10, 2**20):  # the directory says 10 bytes, then 1 MiB; the stream holds 300 MB
        lied = _patch_central(blob, "weights.safetensors", 24, claimed.to_bytes(4, "little"))
        with pytest.raises(ValueError, match="weights.safetensors"):
            read_bundle(lied)


@pytest.mark.parametrize("change, match", [
    (lambda meta: meta["config"].update(levels=[0.1] * 1_000_000), r"config.json' decompresses to more than"),
    (lambda meta: meta["config"].update(levels=[0.1] * 100_000), r"config.levels has 100,000 items \(at most 256\)"),
    (lambda meta: meta["config"].update(levels=[0.1] * 200), r"levels: 200 noise levels \(at most 100\)"),
    (lambda meta: meta["config"]["model"].update(head_hidden=6_000_000), r"head_hidden must lie in \[1, 4096\]"),
    (lambda meta: meta.update(url="x" * 20_000), "longer than a link can be"),
])
def test_a_config_that_would_build_or_run_without_bound_is_refused_before_anything_is_built(trained, change, match):
    def edit(m):
        meta = json.loads(m["config.json"])
        change(meta)
        m["config.json"] = json.dumps(meta).encode()
    with pytest.raises(ValueError, match=match):
        bundles.reopen(playground.SAVING, _rezip(trained[1], edit))


def test_a_table_too_wide_or_too_long_is_refused_before_it_is_parsed(trained):
    wide = ",".join(f"c{i}" for i in range(100_000)).encode() + b"\n"
    with pytest.raises(ValueError, match="100,000 columns"):
        read_bundle(_rezip(trained[1], lambda m: m.update({"tables/metrics.csv": wide})))
    long = b"a\n" + b"1\n" * 3_000_000
    with pytest.raises(ValueError, match="lines"):
        read_bundle(_rezip(trained[1], lambda m: m.update({"tables/metrics.csv": long})))


def test_a_huge_file_given_to_replay_is_refused_from_its_size_before_it_is_read(tmp_path, capsys):
    from fusionlab.cli import main
    huge = tmp_path / "huge.zip"
    with open(huge, "wb") as f:
        f.truncate(2 * 2**30)  # 2 GiB, sparse: nothing to read if the size is checked first
    assert main(["replay", str(huge), "--out", str(tmp_path / "o")]) == 2
    assert "2,048 MiB; a run bundle is at most 64 MiB" in capsys.readouterr().err
