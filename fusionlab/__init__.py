"""fusionlab: an interactive laboratory for multimodal fusion.

The package never imports streamlit outside ``fusionlab.ui``: everything a page
shows can be computed from a notebook or from ``python -m fusionlab``.
"""
__version__ = "0.1.0"
