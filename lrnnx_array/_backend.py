"""Namespace and implementation resolution: the only dispatch helpers.

The inputs decide the array library (``xp``); ``impl=`` decides the algorithm. Public functions
call :func:`namespace` once at their boundary and pass ``xp`` down; private code never re-derives
it. Nothing here imports cupy or torch: array-api-compat's ``is_*`` helpers look at
``sys.modules`` only.
"""

from __future__ import annotations

import array_api_compat as _compat

IMPLS = ("auto", "cuda", "generic", "numba", "reference")


def namespace(*arrays, names=None):
    """Return the array-API namespace shared by ``arrays`` (``None`` entries are skipped).

    Anything else that is not an array (Python scalars, lists) raises ``TypeError`` naming the
    argument. Mixed libraries raise ``TypeError`` and mixed devices ``ValueError``.
    """
    label = (lambda i: names[i]) if names else (lambda i: f"argument {i}")
    for i, a in enumerate(arrays):
        if a is not None and (_is_scalar(a) or isinstance(a, (list, tuple))):
            raise TypeError(
                f"{label(i)} must be an array, got {type(a).__name__}; wrap it with np.asarray "
                "(or your array library's asarray)"
            )
    present = [(i, a) for i, a in enumerate(arrays) if a is not None]
    if not present:
        raise TypeError("expected at least one array argument, got only None")
    first_i, first = present[0]
    try:
        xp0 = _compat.array_namespace(first)
    except TypeError as exc:
        raise TypeError(f"{label(first_i)} must be an array, got {type(first).__name__}") from exc
    dev0 = _compat.device(first)
    for i, a in present[1:]:
        try:
            xpi = _compat.array_namespace(a)
        except TypeError as exc:
            raise TypeError(f"{label(i)} must be an array, got {type(a).__name__}") from exc
        if xpi is not xp0:
            raise TypeError(
                f"{label(i)} is a {_lib_name(xpi)} array but {label(first_i)} is a "
                f"{_lib_name(xp0)} array; all arrays must come from one library "
                "(convert explicitly, nothing is copied between host and device implicitly)"
            )
        devi = _compat.device(a)
        if devi != dev0:
            raise ValueError(
                f"{label(i)} is on device {devi} but {label(first_i)} is on {dev0}; "
                "all arrays must be on one device"
            )
    return xp0


def _is_scalar(a) -> bool:
    return isinstance(a, (bool, int, float, complex))


def _lib_name(xp) -> str:
    return getattr(xp, "__name__", repr(xp)).replace("array_api_compat.", "")


def is_numpy(xp) -> bool:
    return _compat.is_numpy_namespace(xp)


def is_cupy(xp) -> bool:
    return _compat.is_cupy_namespace(xp)


def is_torch(xp) -> bool:
    return _compat.is_torch_namespace(xp)


def device(x):
    return _compat.device(x)


def resolve_impl(impl: str, xp, *, cuda_supported: bool = True, what: str = "this op",
                 reason: str | None = None) -> str:
    """Turn ``impl=`` into ``"cuda"``, ``"generic"`` or ``"reference"``.

    ``auto`` picks ``cuda`` for CuPy inputs when ``cuda_supported`` (the kernel handles the dtype
    and shape), else ``generic``. ``cuda`` on non-CuPy input and ``reference`` on non-NumPy input
    raise ``ValueError``; a ``cuda`` request the kernel cannot serve raises too, with the reason.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if impl == "auto":
        return "cuda" if (is_cupy(xp) and cuda_supported) else "generic"
    if impl == "cuda":
        if not is_cupy(xp):
            raise ValueError(
                f"impl='cuda' needs CuPy arrays, got {_lib_name(xp)} arrays "
                "(move them with cupy.asarray, or use impl='auto')"
            )
        if not cuda_supported:
            why = reason or "dtype or size outside the kernel's range"
            raise ValueError(f"impl='cuda' cannot serve {what} ({why}); use impl='generic'")
    if impl == "numba" and not is_numpy(xp):
        raise ValueError(f"impl='numba' needs NumPy arrays, got {_lib_name(xp)} arrays")
    if impl == "reference" and not is_numpy(xp):
        raise ValueError(
            f"impl='reference' is NumPy-only (a float64 oracle), got {_lib_name(xp)} arrays"
        )
    return impl


# ---------------------------------------------------------------------------------------------
# The backend registry: which array libraries the CLI (`check`, `bench`, `info`) and the tests run
# on, and which implementations each one runs. It reads no environment variable: the tests'
# $LRNNX_TEST_BACKENDS narrowing lives in `testing.available_backends`.

ALL_BACKENDS = ("numpy", "array_api_strict", "cupy")
# Libraries whose arrays the public ops accept through a bridge rather than run natively: torch
# tensors go through lrnnx_array.torch (autograd Functions over the NumPy/CuPy ops). Known to the
# registry (the test grids' `torch-generic` rows) but not in the default list, so the CLI's
# `check`/`bench`/`info` keep to the native backends.
BRIDGE_BACKENDS = ("torch",)
KNOWN_BACKENDS = ALL_BACKENDS + BRIDGE_BACKENDS


def _check_known(name: str) -> None:
    if name not in KNOWN_BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(KNOWN_BACKENDS)}")


def backend_unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here (``None`` when it can); unknown names raise."""
    _check_known(name)
    if name == "numpy":
        return None
    if name == "torch":
        import importlib.util

        if importlib.util.find_spec("torch") is None:  # looks, never imports torch
            return "torch is not installed (pip install 'lrnnx_array[torch]')"
        return None
    if name == "array_api_strict":
        import importlib.util

        if importlib.util.find_spec("array_api_strict") is None:
            return "array_api_strict is not installed (pip install array-api-strict)"
        return None
    return _cupy_unavailable_reason()


def _cupy_unavailable_reason() -> str | None:
    # Lazily, and only when the cupy backend is asked about: `import lrnnx_array` imports no cupy.
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return f"cupy does not import ({type(exc).__name__}: {exc}); install lrnnx_array[cuda12]"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, insufficient driver, ...
        return f"no usable CUDA device ({type(exc).__name__}: {exc})"
    return None if n > 0 else "no CUDA device found"


def available_backends(requested=None) -> list[str]:
    """The backends of ``requested`` (default: the native ones, :data:`ALL_BACKENDS`) that are
    usable here, in that order; :data:`BRIDGE_BACKENDS` (torch) only when requested.

    Unknown names raise ``ValueError``; known but unusable ones (array_api_strict not installed,
    no usable GPU) are left out. Use :func:`backend_unavailable_reason` to say why.
    """
    names = list(ALL_BACKENDS) if requested is None else list(requested)
    return [n for n in names if backend_unavailable_reason(n) is None]


def backend_namespace(name: str):
    """The array namespace for a backend name."""
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp
    if name == "array_api_strict":
        import array_api_strict as xp

        return xp
    if name == "cupy":
        import array_api_compat.cupy as xp

        return xp
    if name == "torch":
        import array_api_compat.torch as xp

        return xp
    raise ValueError(f"unknown backend {name!r}; choose from {', '.join(KNOWN_BACKENDS)}")


def impls_for(name: str) -> list[str]:
    """The implementations a backend runs (reference is NumPy-only, cuda CuPy-only).

    torch: ``generic``, meaning the public op called with tensors, which the bridge runs as the
    NumPy op (CPU tensors) with ``impl`` passed through.
    """
    _check_known(name)
    return {"numpy": ["generic"], "array_api_strict": ["generic"], "cupy": ["cuda", "generic"],
            "torch": ["generic"]}[name]
