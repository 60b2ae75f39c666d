"""Audio-visual digits (docs/data.md, "av-digits"): a spoken digit from the Free Spoken Digit Dataset paired with a
handwritten digit of the same label from scikit-learn's bundled images, AV-MNIST's recipe (MultiBench) rebuilt from
parts that need no download at run time.

- **Audio**: FSDD (Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0; 3,000 recordings, 8 kHz mono, 6 speakers x 10
  digits x 50), read from a folder the user cloned: ``FUSIONLAB_FSDD_DIR``, ``fsdd_dir`` in
  ``.streamlit/secrets.toml`` (a served page copies it into the environment: ``ui.shell``), or the CLI's
  ``--fsdd-dir``. The folder is not part of a run's config (a saved run reopens on a machine whose clone lives
  elsewhere), and neither the recordings nor features derived from them are ever written into the repository.
  Features **[choice]**: log-mel frames ``(32, 40)``: the clip padded or trimmed to 2,736 samples (0.34 s, from
  its start: FSDD's clips are trimmed of leading silence), a 25 ms window, a 10 ms hop, 40 mel bands (librosa), in dB;
  every frame lies inside the clip (librosa's default centres the frames and pads the ends, which made the first and
  last frames half padding: a band of low energy the gates learned to read).
- **Image**: ``sklearn.datasets.load_digits`` (1,797 8x8 images inside the package, scaled to [0, 1]), read as a
  sequence of 8 rows of 8 pixels (gaussian noise and occlusion act on the pixels: ``noise.SIGNAL_CORRUPTIONS``); split once (seeded, stratified) into train, validation and test pools, and each recording paired with an
  image of its digit drawn (seeded by ``seed``) from the pool of its own split. The two modalities are therefore
  independent given the label.
- **Split**: FSDD's own: recordings 0-4 of every speaker and digit are the test set (300), 5-9 the validation set
  (300), 10-49 the training set (2,400); or ``test_speaker``: one speaker's 500 recordings are the test set (an unseen
  voice), the others' 0-4 the validation set.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from .dataset import MultimodalDataset, RawView
from ..options import check_options
from .spec import DatasetInfo, MachineSetting, option, register_dataset

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
RATE = 8000
FRAMES, MELS = 32, 40
WINDOW, HOP, N_FFT = 200, 80, 256  # 25 ms, 10 ms at 8 kHz
SAMPLES = (FRAMES - 1) * HOP + N_FFT  # 2,736: frames that stay inside a clip this long number exactly FRAMES
ENV = "FUSIONLAB_FSDD_DIR"
CLONE = "git clone https://github.com/Jakobovski/free-spoken-digit-dataset"
NAME = re.compile(r"([0-9])_([a-z]+)_([0-9]+)\.wav")


@dataclass(frozen=True)
class AVDigitsConfig:
    test_speaker: str = option("none", "av-digits: hold out one speaker as the test set (an unseen voice); none: "
                               "FSDD's own split (recordings 0-4 of every speaker)", flag="--test-speaker",
                               choices=("none",) + SPEAKERS, label="test speaker")
    seed: int = option(0, "av-digits: the seed pairing each recording with an image of its digit", flag="--pair-seed",
                       lo=0, hi=2**31 - 1, label="pairing seed")

    def __post_init__(self) -> None:
        check_options(self)  # every declared option within its one range (the widget's)


def _info(cfg: AVDigitsConfig) -> DatasetInfo:
    return DatasetInfo({"audio": (FRAMES, MELS), "image": (8, 8)}, 10,
                       "Free Spoken Digit Dataset (your clone, CC BY-SA 4.0) + scikit-learn's 8x8 digits",
                       {"image": (8, 8)})


def fsdd_folder(given: Optional[str] = None) -> Path:
    """The FSDD clone's ``recordings`` folder: ``given``, else ``FUSIONLAB_FSDD_DIR`` (which a page sets from the secret
    ``fsdd_dir``); one line naming what is missing and the command that gets it."""
    where = given or os.environ.get(ENV)  # a served page sets it from .streamlit/secrets.toml (ui.shell)
    if not where:
        raise ValueError(f"av-digits needs the Free Spoken Digit Dataset: {CLONE} and give its folder with --fsdd-dir "
                         f"DIR, the environment variable {ENV}, or fsdd_dir in .streamlit/secrets.toml")
    root = Path(where).expanduser()
    rec = root / "recordings" if (root / "recordings").is_dir() else root
    if not rec.is_dir():
        raise ValueError(f"av-digits: {root} is not a folder (expected a clone of the Free Spoken Digit Dataset: "
                         f"{CLONE})")
    return rec


def configured() -> bool:
    """Whether the FSDD folder is known to this process (a page offers av-digits only then)."""
    try:
        fsdd_folder()
        return True
    except ValueError:
        return False


def read_recordings(folder: Path) -> Tuple[List[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Every ``{digit}_{speaker}_{index}.wav``: waveforms (float32 in [-1, 1]), digits, speakers, indices. The first
    file that is misnamed, unreadable, not 8 kHz or not mono is named."""
    import warnings

    from scipy.io import wavfile
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"av-digits: {folder} holds no recordings (expected a clone of the Free Spoken Digit "
                         f"Dataset: {CLONE})")
    waves, digits, speakers, indices = [], [], [], []
    for p in files:
        m = NAME.fullmatch(p.name)
        if not m:
            raise ValueError(f"av-digits: {p.name} in {folder} is not named <digit>_<speaker>_<index>.wav")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a WAV with extra chunks: scipy warns and reads it
                rate, x = wavfile.read(p)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"av-digits: {p.name} is not a readable WAV file ({exc})") from None
        if rate != RATE:
            raise ValueError(f"av-digits: {p.name} is sampled at {rate} Hz; FSDD's recordings are {RATE} Hz")
        if x.ndim != 1:
            raise ValueError(f"av-digits: {p.name} has {x.shape[1]} channels; FSDD's recordings are mono")
        if x.dtype.kind == "i":
            x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
        elif x.dtype.kind == "u":
            x = (x.astype(np.float32) - 128.0) / 128.0
        waves.append(np.asarray(x, dtype=np.float32))
        digits.append(int(m.group(1)))
        speakers.append(m.group(2))
        indices.append(int(m.group(3)))
    return waves, np.asarray(digits), np.asarray(speakers), np.asarray(indices)


def fixed_length(waves: List[np.ndarray]) -> np.ndarray:
    """``(N, SAMPLES)``: each clip from its start, padded with silence or trimmed."""
    out = np.zeros((len(waves), SAMPLES), np.float32)
    for i, w in enumerate(waves):
        out[i, :min(len(w), SAMPLES)] = w[:SAMPLES]
    return out


def log_mel(waves: np.ndarray) -> np.ndarray:
    """``(N, FRAMES, MELS)`` log-mel frames (dB) of ``(N, SAMPLES)`` waveforms, all clips in one call."""
    import librosa
    power = librosa.feature.melspectrogram(y=np.asarray(waves, np.float32), sr=RATE, n_fft=N_FFT, win_length=WINDOW,
                                           hop_length=HOP, n_mels=MELS, power=2.0, center=False)  # (N, MELS, FRAMES)
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None).transpose(0, 2, 1).astype(np.float32)


def image_pools(seed: int = 0) -> Tuple[np.ndarray, np.ndarray, Dict[int, List[np.ndarray]]]:
    """scikit-learn's digits as ``(N, 8, 8)`` in [0, 1], their labels, and per split code (0 train, 1 validation, 2
    test) the row indices of each digit: a seeded, stratified 60/20/20 split, fixed for the dataset."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    images, y = (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)
    rows = np.arange(len(y))
    train, rest = train_test_split(rows, train_size=0.6, stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=0.5, stratify=y[rest], random_state=seed)
    pools = {code: [np.sort(part[y[part] == k]) for k in range(10)] for code, part in ((0, train), (1, val), (2, test))}
    return images, y, pools


def split_of(speakers: np.ndarray, indices: np.ndarray, test_speaker: str = "none") -> np.ndarray:
    """Split codes per recording: FSDD's own (0-4 test, 5-9 validation, the rest train), or one speaker held out."""
    if test_speaker == "none":
        return np.where(indices < 5, 2, np.where(indices < 10, 1, 0))
    if test_speaker not in set(speakers.tolist()):
        raise ValueError(f"av-digits: no recordings of speaker '{test_speaker}' (the folder has "
                         f"{', '.join(sorted(set(speakers.tolist())))})")
    return np.where(speakers == test_speaker, 2, np.where(indices < 5, 1, 0))


def pair_images(digits: np.ndarray, split: np.ndarray, seed: int) -> np.ndarray:
    """For each recording, the row of an image of its digit from the pool of its split (seeded, with replacement)."""
    _, _, pools = image_pools()
    rng = np.random.default_rng(seed)
    out = np.empty(len(digits), np.int64)
    for code in (0, 1, 2):
        for k in range(10):
            here = np.flatnonzero((split == code) & (digits == k))
            if len(here):
                out[here] = rng.choice(pools[code][k], size=len(here), replace=True)
    return out


@register_dataset("av-digits", "audio-visual digits: a spoken digit (FSDD, your clone) with a handwritten one of "
                  "the same label", AVDigitsConfig, _info, available=configured,
                  settings=(MachineSetting("--fsdd-dir", ENV, "fsdd_dir", f"av-digits: your clone of the Free Spoken Digit Dataset "
                                           f"({CLONE}); default: ${ENV}", fsdd_folder),))
def load_av_digits(cfg: AVDigitsConfig) -> MultimodalDataset:
    waves, digits, speakers, indices = read_recordings(fsdd_folder())
    split = split_of(speakers, indices, cfg.test_speaker)
    for code, what in ((0, "training"), (2, "test")):
        if not (split == code).any():
            raise ValueError(f"av-digits: the folder gives no {what} recordings (FSDD's split needs indices 0-4 and "
                             "10-49)")
    raw = fixed_length(waves)
    images, _, _ = image_pools()
    paired = pair_images(digits, split, cfg.seed)
    pixels = images[paired]
    return MultimodalDataset({"audio": log_mel(raw), "image": pixels}, digits,
                             [str(d) for d in range(10)], "av-digits",
                             extras={"image_row": paired, "speaker": speakers, "index": indices},
                             split=split, raw={"audio": RawView(raw, log_mel, "audio"),
                                               "image": RawView(pixels, pixels_as_features, "image",
                                                                float(pixels[split == 0].std()))},
                             pooled_scale=("image",))


def pixels_as_features(pixels: np.ndarray) -> np.ndarray:
    """The image's features are its pixels: ``(n, 8, 8)``, 8 rows of 8."""
    return np.asarray(pixels, np.float32)
