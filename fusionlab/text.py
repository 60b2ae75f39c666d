"""Number formatting shared by verdict texts, figure titles and metrics."""
from __future__ import annotations


def signed(x: float, digits: int = 3) -> str:
    """``x`` with its sign, rounded first so that a value that rounds to zero shows ``+0.000``, never ``-0.000``."""
    return f"{round(float(x), digits) + 0.0:+.{digits}f}"
