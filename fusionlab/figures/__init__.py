"""Plotly figure builders: data in, ``go.Figure`` out; no computation, no streamlit.

One submodule per page keeps each file small (DESIGN.md asks for ~300 lines);
the shared builders are re-exported here so ``from fusionlab import figures`` works.
"""
from .common import (confusion_matrix_figure, contribution_bars, empty_figure, gate_heatmap, line_with_band,
                     probability_bars, robustness_figure, sample_inputs, training_curves)

__all__ = ["confusion_matrix_figure", "contribution_bars", "empty_figure", "gate_heatmap", "line_with_band",
           "probability_bars", "robustness_figure", "sample_inputs", "training_curves"]
