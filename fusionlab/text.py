"""Number formatting shared by verdict texts, figure titles and metrics."""
from __future__ import annotations


def plus_minus(mean: float, sd: float, digits: int = 3) -> str:
    """``mean ± sd``, the mean rounded first so a mean that rounds to zero shows ``0.000``, never ``-0.000``."""
    return f"{round(float(mean), digits) + 0.0:.{digits}f} ± {float(sd):.{digits}f}"


def signed(x: float, digits: int = 3) -> str:
    """``x`` with its sign, rounded first so that a value that rounds to zero shows ``+0.000``, never ``-0.000``."""
    return f"{round(float(x), digits) + 0.0:+.{digits}f}"
