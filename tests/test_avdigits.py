"""Audio-visual digits (issue 31): the FSDD loader on a generated folder of tones (no real recordings needed), the
pairing with scikit-learn's digits, the split, bad folders and files; and on the real clone when one is configured."""
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from fusionlab.data import load_dataset
from fusionlab.data import avdigits as av

REAL = Path(__file__).resolve().parents[2] / "shared" / "fsdd"


def _tones(root: Path, speakers=("george", "theo"), per=12, rate=8000) -> Path:
    """An FSDD-layout folder: per speaker and digit, ``per`` clips of a tone whose pitch says the digit."""
    rec = root / "recordings"
    rec.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for s, speaker in enumerate(speakers):
        for d in range(10):
            for i in range(per):
                n = int(rng.integers(1500, 4000))
                t = np.arange(n) / rate
                x = 0.5 * np.sin(2 * np.pi * (150 + 60 * d + 7 * s) * t) + 0.01 * rng.normal(size=n)
                wavfile.write(rec / f"{d}_{speaker}_{i}.wav", rate, (x * 32767).astype(np.int16))
    return root


@pytest.fixture()
def tones(tmp_path, monkeypatch):
    root = _tones(tmp_path / "fsdd")
    monkeypatch.setenv(av.ENV, str(root))
    return root


def test_the_loader_pairs_each_recording_with_an_image_of_its_digit(tones):
    from fusionlab.data.avdigits import AVDigitsConfig, image_pools
    ds = load_dataset("av-digits", AVDigitsConfig())
    assert ds.shapes() == {"audio": (av.FRAMES, av.MELS), "image": (8, 8)} and len(ds.labels) == 2 * 10 * 12
    _, y_img, pools = image_pools()
    assert np.array_equal(y_img[ds.extras["image_row"]], ds.labels)  # the same digit in both modalities
    for code in (0, 1, 2):  # each split's images come from its own pool: no image is shared across splits
        rows = ds.extras["image_row"][ds.split == code]
        assert set(rows) <= set(np.concatenate(pools[code]))
    assert set(np.concatenate(pools[0])).isdisjoint(np.concatenate(pools[2]))
    idx = ds.extras["index"]
    assert np.array_equal(ds.split, np.where(idx < 5, 2, np.where(idx < 10, 1, 0)))  # FSDD's own split
    again, other = load_dataset("av-digits", AVDigitsConfig()), load_dataset("av-digits", AVDigitsConfig(seed=1))
    assert np.array_equal(again.extras["image_row"], ds.extras["image_row"])  # seeded
    assert not np.array_equal(other.extras["image_row"], ds.extras["image_row"])
    held = load_dataset("av-digits", AVDigitsConfig(test_speaker="theo"))
    assert set(held.extras["speaker"][held.split == 2]) == {"theo"} and "theo" not in held.extras["speaker"][held.split < 2]


def test_the_audio_features_are_log_mel_frames_that_follow_the_pitch(tones):
    from fusionlab.data.avdigits import AVDigitsConfig
    ds = load_dataset("av-digits", AVDigitsConfig())
    mel = ds.modalities["audio"]  # (N, T, bands): the loudest band rises with the tone's pitch, i.e. the digit
    loudest = mel[:, 5:20].mean(1).argmax(1)
    assert np.corrcoef(loudest, ds.labels)[0, 1] > 0.9
    assert np.isfinite(mel).all()


def test_a_short_clip_is_padded_and_a_long_one_trimmed():
    out = av.fixed_length([np.ones(10, np.float32), np.ones(10_000, np.float32)])
    assert out.shape == (2, av.SAMPLES) and out[0, :10].all() and not out[0, 10:].any() and out[1].all()
    assert av.log_mel(out).shape == (2, av.FRAMES, av.MELS)


@pytest.mark.parametrize("damage, match", [
    (lambda rec: (rec / "0_george_0.wav").rename(rec / "zero-george.wav"), "zero-george.wav in .* is not named"),
    (lambda rec: wavfile.write(rec / "1_george_3.wav", 16000, np.zeros(100, np.int16)), "1_george_3.wav is sampled at 16000 Hz"),
    (lambda rec: wavfile.write(rec / "2_theo_4.wav", 8000, np.zeros((100, 2), np.int16)), "2_theo_4.wav has 2 channels"),
    (lambda rec: (rec / "3_theo_1.wav").write_bytes(b"RIFF....not a wav"), "3_theo_1.wav is not a readable WAV"),
])
def test_a_bad_file_is_named(tones, damage, match):
    damage(tones / "recordings")
    with pytest.raises(ValueError, match=match):
        load_dataset("av-digits")


def test_a_missing_folder_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    from fusionlab.cli import main
    monkeypatch.delenv(av.ENV, raising=False)
    assert main(["train", "--dataset", "av-digits", "--epochs", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "git clone https://github.com/Jakobovski/free-spoken-digit-dataset" in err and "\n" not in err.strip()
    assert main(["train", "--dataset", "av-digits", "--fsdd-dir", str(tmp_path / "none"), "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "is not a folder" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_the_cli_trains_on_the_generated_folder(tmp_path, capsys, monkeypatch):
    import json

    from fusionlab.cli import main
    root = _tones(tmp_path / "fsdd", per=25)
    monkeypatch.delenv(av.ENV, raising=False)
    assert main(["train", "--dataset", "av-digits", "--fsdd-dir", str(root), "--epochs", "10",
                 "--out", str(tmp_path / "o")]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.3  # tones name their digit: well above chance (0.1)


@pytest.mark.skipif(not (REAL / "recordings").is_dir(), reason="no FSDD clone at ../shared/fsdd (the real recordings "
                                                              "are not part of the repository)")
def test_the_real_recordings(monkeypatch):
    monkeypatch.setenv(av.ENV, str(REAL))
    ds = load_dataset("av-digits")
    assert len(ds.labels) == 3000 and ds.shapes() == {"audio": (av.FRAMES, av.MELS), "image": (8, 8)}
    assert [int((ds.split == c).sum()) for c in (0, 1, 2)] == [2400, 300, 300]
    assert sorted(set(ds.extras["speaker"].tolist())) == list(av.SPEAKERS)
    assert np.bincount(ds.labels[ds.split == 2]).tolist() == [30] * 10


@pytest.mark.parametrize("level", [0.25, 0.5, 0.75, 1.0])
def test_white_noise_on_the_recording_has_the_signal_to_noise_ratio_of_its_setting(level):
    import torch

    from fusionlab.noise import corrupt_signal, snr_db
    rng = np.random.default_rng(0)
    t = np.arange(av.SAMPLES) / av.RATE
    clean = np.stack([a * np.sin(2 * np.pi * f * t) for a, f in zip(rng.uniform(0.05, 0.8, 20),
                                                                      rng.uniform(100, 900, 20))]).astype(np.float32)
    noisy = corrupt_signal("snr", clean, level, torch.Generator().manual_seed(1))
    measured = 10 * np.log10((clean ** 2).mean(1) / ((noisy - clean) ** 2).mean(1))
    assert np.abs(measured - snr_db(level)).max() < 0.5
    assert np.array_equal(corrupt_signal("snr", clean, 0.0, torch.Generator()), clean)  # level 0: as recorded


def test_snr_on_av_digits_corrupts_the_sound_and_recomputes_the_features(tones):
    import torch

    from fusionlab import rng
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.noise import corrupt_modalities, corrupt_signal, corrupted_signal
    data = prepare(load_dataset("av-digits"), SplitConfig())
    xs, raw = data.test.xs, data.test.xs.raw["audio"]
    assert torch.allclose(raw.inputs(raw.signal), xs["audio"], atol=1e-4)  # the clean recording: the stored features
    out = corrupt_modalities(xs, {"audio": 0.6, "image": 0.6}, "snr", 3, data.stats)
    gen = rng.streams(3, tuple(xs))["audio"]
    assert torch.allclose(out["audio"], raw.inputs(corrupt_signal("snr", raw.signal, 0.6, gen)))
    heard = corrupted_signal(xs, {"audio": 0.6}, "snr", 3, "audio")  # what the page plays: the same draw
    assert torch.allclose(out["audio"], raw.inputs(heard))
    assert not torch.allclose(out["image"], xs["image"])  # no raw image: the features themselves get the noise
    clean = corrupt_modalities(xs, {"audio": 0.0}, "snr", 3, data.stats)
    assert torch.equal(clean["audio"], xs["audio"])
    rows = data.test.take(np.arange(5)).xs  # a subset of rows has no raw signal: the feature-level form
    assert not hasattr(rows, "raw") and corrupt_modalities(rows, {"audio": 0.6}, "snr", 3, data.stats)["audio"].shape == (
        5, av.FRAMES, av.MELS)


def test_a_gap_silences_a_contiguous_share_of_the_recording_or_masks_timesteps(tones):
    import torch

    from fusionlab.data import SplitConfig, prepare
    from fusionlab.noise import corrupt, corrupt_modalities, corrupted_signal
    data = prepare(load_dataset("av-digits"), SplitConfig())
    xs = data.test.xs
    heard = corrupted_signal(xs, {"audio": 0.5}, "gap", 1, "audio")
    was = xs.raw["audio"].signal
    for a, b in zip(heard, was):
        silent = np.flatnonzero(a != b)  # where the gap changed something: inside one run of half the samples
        assert len(silent) == 0 or silent[-1] - silent[0] < av.SAMPLES // 2
        assert (a == 0).sum() >= av.SAMPLES // 2 - 1
    out = corrupt_modalities(xs, {"audio": 0.5}, "gap", 1, data.stats)
    assert torch.allclose(out["audio"], xs.raw["audio"].inputs(heard))
    x = torch.randn(4, 10, 3)
    stats = type("S", (), {"mean": torch.zeros(3), "std": torch.ones(3)})()
    y = corrupt("gap", x, 0.3, torch.Generator().manual_seed(0), stats)
    hit = (y == 0).all(dim=2)  # (4, 10): three whole timesteps in a row per sample
    assert (hit.sum(1) == 3).all() and all(np.ptp(np.flatnonzero(h)) == 2 for h in hit.numpy())
    assert torch.equal(corrupt("gap", x, 0.0, torch.Generator(), stats), x)


def test_rows_at_level_zero_keep_their_inputs_bit_for_bit_on_the_signal_path(tones):
    import torch

    from fusionlab.data import SplitConfig, prepare
    from fusionlab.noise import corrupt_modalities
    data = prepare(load_dataset("av-digits"), SplitConfig())
    xs = data.test.xs
    lv = torch.zeros(len(data.test))
    lv[::2] = 0.7  # per-sample levels (as Uncertainty weighting draws them): every other row clean
    for name in ("snr", "gap"):
        out = corrupt_modalities(xs, {"audio": lv}, name, 0, data.stats)["audio"]
        assert torch.equal(out[1::2], xs["audio"][1::2]) and not torch.allclose(out[::2], xs["audio"][::2])


def test_a_served_page_takes_the_folder_from_the_secrets_file(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    root = _tones(tmp_path / "fsdd", per=2)
    monkeypatch.setenv(av.ENV, "")  # recorded, so the value the page sets below is undone after the test
    monkeypatch.delenv(av.ENV)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "1_playground.py"), default_timeout=60)
    at.run()
    assert not any(o.startswith("av-digits") for o in at.selectbox(key="playground-dataset").options)  # not offered
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "1_playground.py"), default_timeout=60)
    at.secrets["fsdd_dir"] = str(root)
    at.run()
    assert not at.exception and any(o.startswith("av-digits") for o in at.selectbox(key="playground-dataset").options)
    assert os.environ[av.ENV] == str(root)


@pytest.mark.parametrize("level", [0.1, 0.25, 0.5, 1.0])
def test_occlusion_covers_one_rectangle_of_its_share_at_the_train_mean(level):
    import torch

    from fusionlab.noise import corrupt
    x = torch.randn(50, 8, 10) + 5
    stats = type("S", (), {"mean": torch.zeros(10), "std": torch.ones(10)})()
    y = corrupt("occlusion", x, level, torch.Generator().manual_seed(0), stats)
    for hit in (y == 0).numpy():
        rows, cols = np.flatnonzero(hit.any(1)), np.flatnonzero(hit.any(0))
        assert hit.sum() == len(rows) * len(cols)  # one rectangle, nothing outside it
        assert np.ptp(rows) == len(rows) - 1 and np.ptp(cols) == len(cols) - 1
        assert abs(hit.mean() - level) <= 0.1  # its share of the grid
    vec = corrupt("occlusion", torch.randn(6, 1, 20) + 5, 0.3, torch.Generator().manual_seed(0), type(
        "S", (), {"mean": torch.zeros(20)})())
    assert ((vec == 0).sum(dim=2) == 6).all()  # a vector: a run of its features, as gap
    assert torch.equal(corrupt("occlusion", x, 0.0, torch.Generator(), stats), x)


def test_gaussian_and_occlusion_act_on_the_digit_pixels_and_the_page_shows_them(tones):
    import torch

    from fusionlab import rng
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.diagnostics import noisy_evaluation
    from fusionlab.models import ModelConfig, build_model
    from fusionlab.noise import GREY, corrupt_modalities, corrupt_signal, corrupted_signal
    data = prepare(load_dataset("av-digits"), SplitConfig())
    xs, raw = data.test.xs, data.test.xs.raw["image"]
    assert raw.kind == "image" and torch.allclose(raw.inputs(raw.signal), xs["image"], atol=1e-5)
    out = corrupt_modalities(xs, {"image": 0.8}, "gaussian", 2, data.stats)
    pixels = corrupt_signal("gaussian", raw.signal, 0.8, rng.streams(2, tuple(xs))["image"], "image", raw.unit)
    assert torch.allclose(out["image"], raw.inputs(pixels)) and pixels.min() >= 0 and pixels.max() <= 1
    grey = np.full((400, 8, 8), 0.5, np.float32)  # far from the clip: the noise's sd is level x the train pixels' sd
    noisy = corrupt_signal("gaussian", grey, 0.5, torch.Generator().manual_seed(0), "image", 0.1)
    assert abs((noisy - grey).std() - 0.05) < 0.002
    assert torch.equal(corrupt_modalities(xs, {"image": 0.8}, "gaussian", 2, data.stats)["audio"], xs["audio"])
    seen = corrupted_signal(xs, {"image": 0.25}, "occlusion", 2, "image")
    patch = seen == GREY
    assert (patch.reshape(len(seen), -1).sum(1) >= 12).all()  # a quarter of the 64 pixels, grey
    model = build_model(data.shapes(), data.n_classes, ModelConfig())
    ev = noisy_evaluation(model, data, {"image": 0.25}, "occlusion", 2)
    shown = ev.raw(data, 0)["image"]  # what the page draws for test sample 0: the grey patch on the digit
    assert np.allclose(shown[patch[0]], GREY, atol=1e-5)


def test_the_image_is_scaled_with_one_mean_and_sd_over_its_pixels(tones):
    from fusionlab.data import SplitConfig, prepare
    ds = load_dataset("av-digits")
    data = prepare(ds, SplitConfig())
    train = ds.modalities["image"][ds.split == 0]
    st = data.raw_stats["image"]
    assert np.allclose(st.mean.numpy(), train.mean(), atol=1e-6) and np.allclose(st.std.numpy(), train.std(), atol=1e-6)
    audio = data.raw_stats["audio"].std.numpy()  # the log-mel bands keep a scale each
    assert np.ptp(audio) > 0 and np.allclose(audio, ds.modalities["audio"][ds.split == 0].reshape(-1, av.MELS).std(0),
                                             rtol=1e-4)
    assert np.ptp(prepare(ds.subset(np.arange(len(ds.labels))), SplitConfig()).raw_stats["image"].std.numpy()) == 0


def test_every_frame_of_a_steady_tone_has_the_same_energy_none_is_half_padding():
    t = np.arange(av.SAMPLES) / av.RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    energy = 10 * np.log10((10 ** (av.log_mel(tone)[0] / 10)).sum(axis=1))  # (FRAMES,) total power per frame, dB
    assert av.log_mel(tone).shape == (1, av.FRAMES, av.MELS) and np.ptp(energy) < 0.5
