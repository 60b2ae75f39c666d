"""fusionlab: an interactive laboratory for multimodal fusion.

The package never imports streamlit outside ``fusionlab.ui``: everything a page
shows can be computed from a notebook or from ``python -m fusionlab``.

For a notebook, the calls on your own model and data (docs/your-model.md) are here, imported on first use::

    import fusionlab
    data = fusionlab.prepare(fusionlab.DataConfig("uci-digits").load(), fusionlab.SplitConfig(seed=0), scale=False)
    model = fusionlab.build_yours("my_model.py:build", data.shapes(), data.n_classes)
    fusionlab.load_weights(model, "weights.safetensors")
    tables = fusionlab.inspect(model, data)   # metrics, robustness, removal, perceptual
"""
__version__ = "0.1.0"

_API = {"DataConfig": "fusionlab.data", "SplitConfig": "fusionlab.data", "prepare": "fusionlab.data",
        "build_yours": "fusionlab.yours", "load_weights": "fusionlab.yours", "save_weights": "fusionlab.yours",
        "inspect": "fusionlab.yours", "fit": "fusionlab.train", "TrainConfig": "fusionlab.train",
        "evaluate": "fusionlab.train"}


def __getattr__(name: str):
    """The notebook API, imported when first used (``python -m fusionlab --help`` imports no torch)."""
    if name not in _API:
        raise AttributeError(f"module 'fusionlab' has no attribute '{name}'")
    import importlib
    return getattr(importlib.import_module(_API[name]), name)


__all__ = sorted(_API)
