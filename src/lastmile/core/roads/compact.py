"""Smaller road caches: arrays stored in the fewest bytes that give them back exactly.

A city of a million intersections wrote a 585 MB cache of plain arrays. Most of it is
indices and small integers held in 64 bits, per-segment speeds that take a few dozen
distinct values, and an identity map. :func:`pack` stores each array in a form that
:func:`unpack` turns back into the identical array (same values, same dtype), so nothing
that reads the graph changes:

* non-decreasing integers in steps of at most 255 (row pointers, sorted node ids): the
  steps, one byte each (``<name>__steps``);
* other 64-bit integers: in the narrowest of 8, 16 or 32 bits that holds them
  (``<name>__narrow``);
* arrays with at most 256 distinct values (speeds per profile and segment): a palette and
  one byte per entry (``<name>__palette``, ``<name>__codes``);
* ``0, 1, ..., m-1`` followed by ``-1``s (the hierarchy's map of arcs to base edges): just
  ``m`` and the length (``<name>__arange``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

NARROW = "__narrow"
STEPS = "__steps"
STEPS_FROM = "__steps_dtype"
PALETTE = "__palette"
CODES = "__codes"
ARANGE = "__arange"


def pack(arrays: Mapping[str, Array]) -> dict[str, Array]:
    """The arrays in their compact forms (names get a suffix saying which)."""
    out: dict[str, Array] = {}
    for name, array in arrays.items():
        if array.ndim == 0 or array.size < 1024:
            out[name] = array
        elif array.dtype.kind == "i" and _is_arange(array):
            out[name + ARANGE] = np.array([(array >= 0).sum(), len(array)], array.dtype)
        elif array.dtype.kind == "f" and len(values := np.unique(array)) <= 256:
            out[name + PALETTE] = values
            out[name + CODES] = np.searchsorted(values, array).astype(np.uint8)
        elif array.dtype.kind == "i" and array.ndim == 1 and _steps_fit(array):
            out[name + STEPS] = np.diff(array, prepend=0).astype(np.uint8)
            out[name + STEPS_FROM] = np.array(array.dtype.str)
        elif array.dtype == np.int64 and (small := _narrowest(array)) is not None:
            out[name + NARROW] = array.astype(small)
        else:
            out[name] = array
    return out


def _narrowest(array: Array) -> type[np.signedinteger[Any]] | None:
    low, high = int(array.min()), int(array.max())
    for kind in (np.int8, np.int16, np.int32):
        if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max:
            return kind
    return None


def _steps_fit(array: Array) -> bool:
    """Non-decreasing from 0 or more in steps of at most 255 (row pointers, sorted ids)."""
    steps = np.diff(array, prepend=0)
    return bool(steps.min() >= 0 and steps.max() <= 255)


def _is_arange(array: Array) -> bool:
    count = int((array >= 0).sum())
    return bool(
        array.ndim == 1
        and np.array_equal(array[:count], np.arange(count))
        and (array[count:] == -1).all()
    )


def unpack(stored: Mapping[str, Array]) -> dict[str, Any]:
    """Every array as it was given to :func:`pack`."""
    out: dict[str, Any] = {}
    for key in stored:
        if key.endswith((CODES, STEPS_FROM)):
            continue
        value = stored[key]
        if key.endswith(NARROW):
            out[key.removesuffix(NARROW)] = value.astype(np.int64)
        elif key.endswith(STEPS):
            name = key.removesuffix(STEPS)
            dtype = np.dtype(str(stored[name + STEPS_FROM]))
            out[name] = np.cumsum(value, dtype=dtype)
        elif key.endswith(PALETTE):
            name = key.removesuffix(PALETTE)
            out[name] = value[stored[name + CODES]]
        elif key.endswith(ARANGE):
            count, length = (int(v) for v in value)
            full = np.full(length, -1, value.dtype)
            full[:count] = np.arange(count)
            out[key.removesuffix(ARANGE)] = full
        else:
            out[key] = value
    return out
