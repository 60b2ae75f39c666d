"""Your model in the lab (docs/your-model.md): the lab's instruments on a PyTorch model you wrote.

The contract: a Python file defines ``build(shapes, n_classes) -> torch.nn.Module``. ``shapes[m]`` is modality
``m``'s stored shape without the row axis: ``(D,)`` for a vector modality, ``(T, D)`` for a sequence. The module's
``forward(xs)`` takes a dict of tensors shaped like that with the batch axis first, ``(B, D)`` or ``(B, T, D)``, and
returns logits ``(B, C)`` (or the lab's ``ModelOutput``). :class:`YourModel` makes it a lab model: it hands your
module the shapes it declared (the lab keeps every modality as ``(N, T, D)``), checks what comes back, and turns
an exception in your code into one line naming it. Your code is imported from where it is, never copied or edited.

Weights come as safetensors (:func:`load_weights`: tensors only, nothing unpickled), checked key by key against
the model ``build`` makes before any is used. :func:`inspect` measures a model the way the Playground does (test
metrics, accuracy under noise per modality and on all, each modality removed, the perceptual score) and returns the
tables; ``python -m fusionlab inspect`` writes them.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .data.dataset import PreparedData
from .models.fusion_model import ModelOutput

Builder = Callable[[Dict[str, tuple], int], nn.Module]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def load_builder(spec: str) -> Builder:
    """``path/to/model.py`` or ``path/to/model.py:name`` (default ``build``): the function, imported from its file."""
    path, _, name = str(spec).partition(":")
    name = name or "build"
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"model file {path} does not exist")
    if p.suffix != ".py":
        raise ValueError(f"model file {path} is not a Python file (.py)")
    module_name = "fusionlab_yours_" + hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:12]
    loader = importlib.util.spec_from_file_location(module_name, p)
    module = importlib.util.module_from_spec(loader)
    try:
        loader.loader.exec_module(module)
    except Exception as exc:  # your file's own error, whatever it is: one line naming it
        raise ValueError(f"importing {p.name} raised {_first_line(exc)}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"{p.name} defines no function '{name}' (the contract: build(shapes, n_classes))")
    return fn


def stored_shapes(shapes: Mapping[str, Tuple[int, int]]) -> Dict[str, tuple]:
    """The lab's ``(T, D)`` per modality as your model is given it: ``(D,)`` when ``T`` is 1, else ``(T, D)``."""
    return {k: (int(s[1]),) if int(s[0]) == 1 else (int(s[0]), int(s[1])) for k, s in shapes.items()}


class YourModel(nn.Module):
    """Your module as a lab model: lab batches in, your shapes to your forward, its logits checked."""

    def __init__(self, inner: nn.Module, shapes: Mapping[str, Tuple[int, int]], n_classes: int) -> None:
        super().__init__()
        self.inner = inner
        self.vector = {k: int(s[0]) == 1 for k, s in shapes.items()}
        self.n_classes = int(n_classes)

    def signals(self) -> Dict[str, Any]:
        """What your module declares (``signals()``: key -> ``fusionlab.signals.Signal``), if anything."""
        return dict(self.inner.signals()) if hasattr(self.inner, "signals") else {}

    def forward(self, xs: Mapping[str, torch.Tensor], replace: Optional[Mapping[str, Callable]] = None) -> ModelOutput:
        """With ``replace`` (the signal test's), your module sees one variant of the batch at a time: a replacement
        that stacks ``c`` variants (``fusionlab.signals``) is handed to it in ``c`` passes of ``B`` rows, so a module
        that calls ``tap(replace, key, value)`` needs to know nothing of stacking."""
        given = {k: v[:, 0, :] if self.vector.get(k) and v.ndim == 3 else v for k, v in xs.items()}
        if not replace:
            return self._checked(self._call(given), len(next(iter(xs.values()))))
        rows = len(next(iter(xs.values())))
        seen = {"variants": 1}

        def variant(fn: Callable, b: int) -> Callable:
            def one(value: torch.Tensor) -> torch.Tensor:
                out = fn(value)
                seen["variants"] = max(seen["variants"], out.shape[0] // max(value.shape[0], 1))
                return out[b * value.shape[0]:(b + 1) * value.shape[0]]
            return one

        outs = [self._checked(self._call(given, {k: variant(f, 0) for k, f in replace.items()}), rows)]
        for b in range(1, seen["variants"]):
            outs.append(self._checked(self._call(given, {k: variant(f, b) for k, f in replace.items()}), rows))
        return ModelOutput(torch.cat([o.logits for o in outs]), {})

    def _call(self, given: Mapping[str, torch.Tensor], replace: Optional[Mapping[str, Callable]] = None):
        try:
            return self.inner(given, replace=replace) if replace else self.inner(given)
        except Exception as exc:  # the user's code: any error becomes one line naming it
            raise ValueError(f"your model's forward raised {_first_line(exc)}") from None

    def _checked(self, out: Any, rows: int) -> ModelOutput:
        logits, extras = (out.logits, dict(out.extras)) if isinstance(out, ModelOutput) else (out, {})
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (rows, self.n_classes):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"your model returned {shape}; the lab needs logits of shape (B, C) = "
                             f"({rows}, {self.n_classes})")
        if not torch.isfinite(logits).all():
            raise ValueError("your model returned NaN or infinite logits")
        return ModelOutput(logits, extras)


def build_yours(model: Union[str, Builder], shapes: Mapping[str, Tuple[int, int]], n_classes: int,
                seed: int = 0) -> YourModel:
    """Your ``build`` (a function, or ``path.py[:name]``) called with your shapes, its module wrapped."""
    fn = load_builder(model) if isinstance(model, (str, Path)) else model
    torch.manual_seed(seed)
    try:
        inner = fn(stored_shapes(shapes), int(n_classes))
    except Exception as exc:
        raise ValueError(f"your build(shapes, n_classes) raised {_first_line(exc)}") from None
    if not isinstance(inner, nn.Module):
        raise ValueError(f"your build returned {type(inner).__name__}, not a torch.nn.Module")
    return YourModel(inner, shapes, n_classes)


def check_state(want: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], what: str) -> None:
    """Refuse (``ValueError`` naming the first) a missing, extra or mis-shaped tensor of ``given``."""
    missing = [k for k in want if k not in given]
    extra = [k for k in given if k not in want]
    shaped = [k for k in want if k in given and tuple(given[k].shape) != tuple(want[k].shape)]
    if missing:
        raise ValueError(f"{what} lacks '{missing[0]}' ({len(missing)} of the model's tensors missing)")
    if extra:
        raise ValueError(f"{what} has '{extra[0]}', which the model does not ({len(extra)} extra)")
    if shaped:
        k = shaped[0]
        raise ValueError(f"{what}: '{k}' has shape {tuple(given[k].shape)}; the model's is {tuple(want[k].shape)}")


def load_weights(model: YourModel, path: Union[str, Path]) -> None:
    """Your trained weights (a safetensors file of your module's ``state_dict``), checked, then loaded."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"weights file {path} does not exist")
    try:
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{p.name} is not a safetensors file ({_first_line(exc)})") from None
    check_state(model.inner.state_dict(), state, p.name)
    model.inner.load_state_dict(state, strict=True)


def load_weights_bytes(model: YourModel, data: bytes, name: str = "the weights") -> None:
    """``load_weights`` for an upload held in memory."""
    from safetensors import SafetensorError
    from safetensors.torch import load
    try:
        state = load(bytes(data))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{name} is not a safetensors file ({_first_line(exc)})") from None
    check_state(model.inner.state_dict(), state, name)
    model.inner.load_state_dict(state, strict=True)


def save_weights(model: nn.Module, path: Union[str, Path]) -> None:
    """Your module's weights as safetensors (the file ``load_weights`` reads)."""
    from safetensors.torch import save_file
    inner = model.inner if isinstance(model, YourModel) else model
    save_file({k: v.detach().contiguous() for k, v in inner.state_dict().items()}, str(path))


class LabModel(nn.Module):
    """A lab model under the plug-in contract: features as stored in, standardised with the train mean and sd it
    was trained with (buffers, saved with its weights), the lab's model after. ``export_lab_model`` writes it."""

    def __init__(self, shapes: Mapping[str, tuple], n_classes: int, cfg: Any) -> None:
        super().__init__()
        from .models import build_model
        lab = {k: (1, int(s[0])) if len(s) == 1 else (int(s[0]), int(s[1])) for k, s in shapes.items()}
        self.model = build_model(lab, n_classes, cfg)
        self.names = list(shapes)
        for k in self.names:
            self.register_buffer(f"mean_{k}", torch.zeros(lab[k][1]))
            self.register_buffer(f"sd_{k}", torch.ones(lab[k][1]))

    def forward(self, xs: Mapping[str, torch.Tensor]) -> ModelOutput:
        z = {}
        for k in self.names:
            x = xs[k] if xs[k].ndim == 3 else xs[k][:, None, :]
            z[k] = (x - getattr(self, f"mean_{k}")) / getattr(self, f"sd_{k}")
        return self.model(z)


EXPORTED = '''"""A fusionlab model exported to the plug-in contract (docs/your-model.md): its config is the JSON file of the
same name; its weights, with the train mean and sd it standardises with, are the safetensors file beside it."""
import json
from pathlib import Path


def build(shapes, n_classes):
    from fusionlab.bundles import config_from_record
    from fusionlab.models import ModelConfig
    from fusionlab.yours import LabModel
    cfg = config_from_record(ModelConfig, json.loads(Path(__file__).with_suffix(".json").read_text()))
    return LabModel(shapes, n_classes, cfg)
'''


def export_lab_model(model: nn.Module, cfg: Any, data: PreparedData, out: Union[str, Path]) -> Path:
    """Write a trained lab model (``build_model(..., cfg)``, trained on ``data``'s standardised features) as a model
    file, its config and its weights: ``out/model.py`` (``build``), ``model.json``, ``weights.safetensors``;
    ``inspect --model out/model.py --weights out/weights.safetensors`` then measures it on the stored features."""
    import json

    from .bundles import record
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wrapped = LabModel(stored_shapes(data.shapes()), data.n_classes, cfg)
    wrapped.model.load_state_dict(model.state_dict())
    for k in wrapped.names:
        getattr(wrapped, f"mean_{k}").copy_(data.raw_stats[k].mean)
        getattr(wrapped, f"sd_{k}").copy_(data.raw_stats[k].std)
    (out / "model.py").write_text(EXPORTED, encoding="utf-8")
    (out / "model.json").write_text(json.dumps(record(cfg), indent=2) + "\n", encoding="utf-8")
    save_weights(wrapped, out / "weights.safetensors")
    return out / "model.py"


def inspect(model: nn.Module, data: PreparedData, noise: str = "mix", levels: Optional[Sequence[float]] = None,
            seed: int = 0, permutations: int = 200) -> Dict[str, Any]:
    """The Playground's measurements of a trained model: ``metrics`` (test accuracy, macro-F1 and the split sizes),
    ``robustness`` (accuracy under ``noise`` on each modality alone and on all), ``removal`` (each modality
    replaced by its train mean) and ``perceptual`` (each modality's test inputs permuted across rows)."""
    from .diagnostics import modality_removal, robustness_curve
    from .diagnostics.signals import SignalTestConfig, input_permutation, over_conditions
    from .train import evaluate
    from .diagnostics.signals import declared_signals, signal_permutation
    metrics = {k: v for k, v in evaluate(model, data.test).items() if k != "loss"}
    metrics.update({f"n_{s}": len(getattr(data, s)) for s in ("train", "val", "test")})
    rob = robustness_curve(model, data, noise, levels, seed=seed)
    test_cfg = SignalTestConfig(permutations=permutations, seed=seed)
    perceptual = over_conditions(input_permutation, model, {"clean": data.test.xs}, data.test.y, data.n_classes,
                                 test_cfg).table
    out = {"metrics": metrics, "robustness": rob[["condition", "noise", "level", "accuracy", "macro_f1"]],
           "removal": modality_removal(model, data), "perceptual": perceptual}
    if declared_signals(model):  # the signals your module taps, each permuted across test rows
        out["signal_permutation"] = over_conditions(signal_permutation, model, {"clean": data.test.xs}, data.test.y,
                                                    data.n_classes, test_cfg).table
    return out


__all__ = ["LabModel", "YourModel", "build_yours", "check_state", "export_lab_model", "inspect", "load_builder",
           "load_weights", "save_weights", "stored_shapes"]
