"""Input validation with messages that name the parameter, the expected and the actual value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def check_option(name: str, value, allowed: Iterable) -> None:
    allowed = tuple(allowed)
    # Options are strings (or None): testing the type first keeps `array in allowed` from
    # raising NumPy's ambiguous-truth error instead of this message.
    is_choice = value is None or isinstance(value, str)
    if not is_choice or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_bool(name: str, value, hint: str = "") -> None:
    """Flags must be real bools or NumPy bools (an array here usually means a positional
    argument slipped). ``np.True_`` is accepted: NumPy 2 names its type ``bool``, so the type is
    tested, never its name."""
    if not isinstance(value, (bool, np.bool_)):
        extra = f"; {hint}" if hint else ""
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}{extra}")


def check_array_dtype(
    xp, name: str, x, *, allow_real: bool = True, allow_complex: bool = True
) -> None:
    """Raise ``TypeError`` unless ``x`` has a float (or complex, when allowed) dtype."""
    dt = x.dtype
    if xp.isdtype(dt, "real floating"):
        if not allow_real:
            raise TypeError(f"{name} must be complex, got dtype {dt}")
        return
    if xp.isdtype(dt, "complex floating"):
        if not allow_complex:
            raise TypeError(f"{name} must be real floating (float32 or float64), got dtype {dt}")
        return
    kinds = "float32, float64" + (", complex64, complex128" if allow_complex else "")
    raise TypeError(f"{name} must have a floating dtype ({kinds}), got dtype {dt}")


def check_ndim(name: str, x, ndims: int | Sequence[int], desc: str = "") -> None:
    ok = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ok:
        want = " or ".join(str(n) for n in ok)
        extra = f" {desc}" if desc else ""
        raise ValueError(f"{name} must have {want} dimensions{extra}, got shape {tuple(x.shape)}")


def check_shape(name: str, x, expected: Sequence[int | None], desc: str = "") -> None:
    """Require ``x.shape == expected`` (``None`` matches any size)."""
    shape = tuple(x.shape)
    exp = tuple(expected)
    if len(shape) != len(exp) or any(e is not None and e != s for e, s in zip(exp, shape)):
        want = (
            "("
            + ", ".join("?" if e is None else str(e) for e in exp)
            + ("," if len(exp) == 1 else "")
            + ")"
        )
        extra = f" {desc}" if desc else ""
        raise ValueError(f"{name} must have shape{extra} {want}, got {shape}")


def check_broadcastable(name: str, x, shape: Sequence[int], desc: str = "") -> None:
    """Require that ``x`` broadcasts to ``shape`` without growing it."""
    xs = tuple(x.shape)
    target = tuple(shape)
    ok = len(xs) <= len(target) and all(s == 1 or s == t for s, t in zip(xs[::-1], target[::-1]))
    if not ok:
        extra = f" {desc}" if desc else ""
        raise ValueError(f"{name} with shape {xs} does not broadcast to{extra} {target}")


def check_finite(xp, name: str, x) -> None:
    """Reject NaN/inf where it would poison every output (parameters, not activations)."""
    if x is None:
        return
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name} must be finite, got NaN or inf entries")


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value.__index__()) if not isinstance(value, int) else value
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def result_dtype(xp, *arrays):
    """Common floating dtype of the non-None arrays (array-API promotion rules).

    float16 computes in float32 (no kernel or oracle is instantiated at half precision, and
    recurrences lose everything in 11-bit mantissas).
    """
    present = [a for a in arrays if a is not None]
    dt = xp.result_type(*present)
    if getattr(xp, "float16", None) is not None and dt == xp.float16:
        return xp.float32
    return dt


def real_dtype_of(xp, dtype):
    """float32 for float32/complex64, float64 for float64/complex128."""
    if dtype == xp.complex64:
        return xp.float32
    if dtype == xp.complex128:
        return xp.float64
    return dtype


def complex_dtype_of(xp, dtype):
    if dtype in (xp.float32, xp.complex64):
        return xp.complex64
    return xp.complex128
