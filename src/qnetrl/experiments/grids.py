"""Parse numeric grids given on the command line: ``start:stop:step``, ``a,b,c`` or ``x``."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qnetrl._validation import InvalidParameterError

__all__ = ["parse_grid"]


def parse_grid(spec: str, name: str) -> NDArray[np.float64]:
    """Expand ``spec`` into a float array; ``stop`` is included when the step lands on it.

    Examples
    --------
    >>> parse_grid("0:10:5", "distance").tolist()
    [0.0, 5.0, 10.0]
    >>> parse_grid("1,2.5", "snr").tolist()
    [1.0, 2.5]
    """
    text = spec.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise InvalidParameterError(
                    f"The {name!r} grid must have step > 0 and stop >= start. Got {spec!r} instead."
                )
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = start + step * np.arange(n)
        else:
            values = np.array([float(p) for p in text.split(",")])
    except ValueError:
        raise InvalidParameterError(
            f"The {name!r} grid must be 'start:stop:step', a comma list or a number. "
            f"Got {spec!r} instead."
        ) from None
    if values.size == 0 or values.size > 100_000:
        raise InvalidParameterError(
            f"The {name!r} grid must hold between 1 and 100000 points. Got {values.size} instead."
        )
    return values.astype(np.float64)
