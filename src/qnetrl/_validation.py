"""Argument validation shared by every layer.

Errors follow scikit-learn's ``InvalidParameterError`` template: they name the parameter, its
owner and the allowed range, and show the offending value, e.g. "The 'length_km' parameter of
fiber_transmittance must be a float in the range [0.0, inf). Got -1.0 instead."
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["InvalidParameterError", "check_choice", "check_range", "format_range"]


class InvalidParameterError(ValueError, TypeError):
    """A parameter has the wrong type or lies outside its allowed range."""


def format_range(
    low: float | None,
    high: float | None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> str:
    """Interval notation such as ``[0.0, 1.0]`` or ``(0.0, inf)``."""
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    left = "[" if low_inclusive and math.isfinite(lo) else "("
    right = "]" if high_inclusive and math.isfinite(hi) else ")"
    return f"{left}{lo}, {hi}{right}"


def check_range(
    name: str,
    value: ArrayLike,
    *,
    owner: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_nan: bool = False,
) -> NDArray[np.float64]:
    """Return ``value`` as a float array after checking every element lies in the range.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : array_like
        Scalar or array to check.
    owner : str
        Function or class that owns the parameter.
    low, high : float or None
        Bounds; ``None`` means unbounded.
    low_inclusive, high_inclusive : bool
        Whether the bounds are allowed values.
    allow_nan : bool
        Whether NaN elements pass.

    Raises
    ------
    InvalidParameterError
        If ``value`` is not numeric or an element lies outside the range.
    """
    rng = format_range(low, high, low_inclusive=low_inclusive, high_inclusive=high_inclusive)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range {rng}. "
            f"Got {value!r} instead."
        ) from None
    bad = np.zeros(arr.shape, dtype=bool)
    nan = np.isnan(arr)
    if not allow_nan:
        bad |= nan
    with np.errstate(invalid="ignore"):
        if low is not None:
            bad |= (arr < low) if low_inclusive else (arr <= low)
        if high is not None:
            bad |= (arr > high) if high_inclusive else (arr >= high)
    if bad.any():
        got = arr[bad].flat[0] if arr.ndim else arr.item()
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range {rng}. "
            f"Got {got!r} instead."
        )
    return arr


def check_choice(name: str, value: Any, choices: tuple[Any, ...], *, owner: str) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``InvalidParameterError``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be one of {{{options}}}. "
            f"Got {value!r} instead."
        )
    return value
