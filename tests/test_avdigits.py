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
