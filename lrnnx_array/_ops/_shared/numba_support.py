"""The numba CPU tier's support: lazy import, on-disk cache, threading layer, stable scalars.

The ``_numba`` module of a family is imported only when its implementation runs (the dispatch
imports implementation modules lazily), and only this module imports numba: ``import
lrnnx_array`` never does. :func:`available` is what ``impl="auto"`` asks (it imports numba once,
so a broken install counts as absent instead of failing every call).

* Cache: kernels compile at first use with ``cache=True``; the cache lives in
  ``$NUMBA_CACHE_DIR`` when set, else ``~/.cache/lrnnx_array/numba`` (a read-only install tree
  cannot hold numba's default ``__pycache__`` cache).
* Threads: ``prange`` loops run on numba's pool; every call first sets its width to
  :func:`lrnnx_array._ops._shared.threads.threads` (so ``threads.limit(1)``, which Dask tasks
  run under, gives one thread). The layer prefers OpenMP, then TBB (both allow calls from several
  Python threads at once); numba's fallback ``workqueue`` does not, so there calls take a lock.
  ``GOMP_SPINCOUNT`` defaults to 10000 (see ``_import``: idle OpenMP workers spinning on a
  loaded machine cost more than the parallelism gained).
* Scalars: numba versions of the numerics layer's stable formulas
  (:mod:`lrnnx_array._ops._shared.numerics`): e^x and φ₁(x) = (e^x − 1)/x via expm1 (the
  complex ones from real exp/expm1/sin/cos, never a complex exp), φ₁′ by its Taylor series near
  0, and RG-LRU's γ = √max(0, −expm1(2δ ln a)). Each is generic over float32/float64/complex64/
  complex128 (``overload`` picks the branch at compile time) and keeps the argument's precision.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
import types as _types

import numpy as _np

from .numerics import DPHI1_COEF, SERIES_RADIUS  # the one home of the series
from .threads import threads as _threads

_NUMBA = None
_REASON: str | None = None
_CHECKED = False
# Re-entrant: a launcher may call another launcher (selective_state_update's float16 state steps
# a float32 copy through its own launcher), and a plain Lock would deadlock that call on the
# workqueue layer.
_LOCK = threading.RLock()
_LAYER_IS_SAFE: bool | None = None
DTYPES = ("float32", "float64", "complex64", "complex128")


def cache_dir() -> str:
    """Where compiled kernels are cached.

    numba invalidates a cached kernel when its own source file changes, not when a function it
    calls from another module does (the callee's code is linked into the cached kernel); the
    kernels call this module's scalars, ``numba_math``'s helpers and helper modules of their
    family (``_numba_tiles.py``), and ``layers/_gelu_numba.py`` calls ``numba_math``, so the
    default directory is keyed by a hash of every numba source file of the package (the ops'
    and the layers'; an edit or upgrade of any starts a fresh cache).
    """
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return env
    import glob
    import hashlib

    here = os.path.dirname(__file__)
    package = os.path.dirname(os.path.dirname(here))
    names = sorted(glob.glob(os.path.join(here, "numba_*.py")) +
                   glob.glob(os.path.join(package, "_ops", "*", "_numba*.py")) +
                   glob.glob(os.path.join(package, "layers", "_*numba*.py")))
    h = hashlib.sha1()
    for name in names:
        with open(name, "rb") as f:
            h.update(f.read())
    key = h.hexdigest()[:12]
    return os.path.join(os.path.expanduser("~"), ".cache", "lrnnx_array", "numba", key)


def _import():
    global _NUMBA, _REASON, _CHECKED
    if _CHECKED:
        return _NUMBA
    _CHECKED = True
    if os.environ.get("LRNNX_NO_NUMBA") == "1":
        _REASON = "disabled by LRNNX_NO_NUMBA=1"
        return None
    if importlib.util.find_spec("numba") is None:
        _REASON = "numba is not installed (pip install 'lrnnx_array[cpu]')"
        return None
    # numba reads its configuration when first imported.
    os.environ.setdefault("NUMBA_CACHE_DIR", cache_dir())
    # libgomp's idle workers spin ~300k iterations after each parallel region: on a shared,
    # oversubscribed runner (load 7 on 2 cores) that made a 2-thread kernel 3-4x slower than one
    # thread (2.5 ms -> 8-15 ms); 10k spins keep back-to-back regions warm and fixed it
    # (2.9 ms). Set before libgomp starts; a user's own setting wins.
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    try:
        import numba
    except Exception as exc:  # e.g. a numba built for another NumPy
        _REASON = f"numba does not import ({type(exc).__name__}: {exc})"
        return None
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
    _NUMBA = numba
    return numba


def available() -> bool:
    """Whether the numba tier can run here (imports numba on the first call)."""
    return _import() is not None


def unavailable_reason() -> str | None:
    _import()
    return _REASON


_SUPPORTS: dict = {}  # (xp, dtype) -> reason: decode steps resolve once per token per layer


def supports(xp, dtype):
    """The ``supports`` predicate of every ``"numba"`` implementation: NumPy, four dtypes."""
    key = (xp, type(dtype), dtype)
    try:
        return _SUPPORTS[key]
    except (KeyError, TypeError):  # TypeError: an unhashable dtype, answered uncached
        pass
    reason = _supports(xp, dtype)
    try:
        _SUPPORTS[key] = reason
    except TypeError:
        pass
    return reason


def _supports(xp, dtype):
    from ..._backend import is_numpy

    if not is_numpy(xp):
        return "the numba tier runs on NumPy arrays only"
    if not available():
        return _REASON
    import numpy as np

    if dtype is not None and np.dtype(dtype).name not in DTYPES:
        return f"the numba tier handles {DTYPES} only, got {dtype}"
    return None


_FINITE_CHARS = frozenset("fdFD")  # float32/64, complex64/128: what all_finite reads
_finite_kernel = None


def all_finite(x):
    """Whether every entry of the NumPy array ``x`` is finite, by one compiled pass, or None
    where this does not answer: numba not imported yet (this never imports it), or a dtype,
    byte order or layout the pass does not read. The caller then asks ``np.isfinite``.

    The pass sums ``x * 0`` (with the first entry's ``x - x`` as the zero): 0 while every entry
    is finite, NaN once one is NaN or inf; only that sum is reassociated, so it vectorises. It
    costs ~1.3 us on a (16, 128) complex64 parameter where ``np.isfinite(x).all()`` costs
    ~3.1 us (a decode step checks four or five parameters a call), and 116 us against 795 us
    on a (1024, 1024) one. Each (dtype, ndim) compiles once (cached on disk)."""
    global _finite_kernel
    if _NUMBA is None or x.dtype.char not in _FINITE_CHARS or not x.dtype.isnative:
        return None
    if x.size == 0:
        return True
    if not x.flags.c_contiguous:
        if not x.flags.f_contiguous:
            return None
        x = x.T  # (C-contiguous)
    if _finite_kernel is None:
        @_NUMBA.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
        def finite_sum_is_zero(v):
            flat = v.ravel()  # (a view: v is C-contiguous)
            zero = flat[0] - flat[0]  # (NaN when flat[0] is not finite: the answer is False)
            acc = zero
            for i in range(flat.shape[0]):
                acc += flat[i] * zero
            return acc == 0

        _finite_kernel = finite_sum_is_zero
    return bool(_finite_kernel(x))


def numba():
    """The numba module (raises ImportError with the reason when the tier is unavailable)."""
    nb = _import()
    if nb is None:
        raise ImportError(_REASON)
    return nb


def kernel(parallel: bool = True):
    """Decorator: ``numba.njit(cache=True, parallel=parallel)`` (no fastmath: IEEE semantics,
    NaN propagation and the stable formulas' cancellations stay as written). NumPy's error
    model: a float division by 0 gives inf/NaN as IEEE (and the reference) do; Python's raised
    ZeroDivisionError, and its check per division kept LLVM from vectorising loops."""
    return numba().njit(cache=True, parallel=parallel, nogil=True, error_model="numpy")


def serial_kernel(fn):
    """``kernel(parallel=False)`` of a copy of the Python function ``fn`` under its own name
    (``<name>_serial``), for a kernel that also has a ``prange`` build of ``fn``.

    numba's on-disk cache names its file after the Python function (qualname and first line)
    and keys the entries by signature only, not by ``parallel``: two dispatchers of one
    function share one entry, and each process loads whichever was written last for both. The
    prange kernel then ran serial code (no second thread) or the serial one the parfor (the
    pool's cost on every small step): measured after a cold cache filled by the public call,
    the decode step's serial kernel took 1.7-4x its fresh compile's CPU time (2-core Zen 4,
    B32 D256 N16 and B2 D2048 N16, mamba and bilinear). A distinct qualname gives each build
    its own cache file."""
    name = fn.__name__ + "_serial"
    twin = _types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__,
                               fn.__closure__)
    twin.__qualname__ = name
    return kernel(parallel=False)(twin)


PARALLEL_MIN_ELEMS = 1 << 17


def launch(fn=None, *, min_elems: int = PARALLEL_MIN_ELEMS):
    """Wrap a Python-level launcher: set numba's thread count, serialise on an unsafe layer.

    ``@launch`` or ``@launch(min_elems=n)``: calls whose largest array has fewer than ``n``
    elements run on one thread (kernels with several transcendentals per element pay for the
    pool's wake-up at fewer elements than a plain multiply-add)."""
    if fn is None:
        return functools.partial(launch, min_elems=min_elems)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        global _LAYER_IS_SAFE
        nb = numba()
        # Small calls run on one thread: waking the pool costs ~20 us quiet and milliseconds on
        # a loaded machine (a descheduled worker), more than the work below ~2^17 elements.
        size = 0
        for a in args:  # (a loop, not max() over a generator: 0.8 vs 1.5 us a call)
            if isinstance(a, _np.ndarray) and a.size > size:
                size = a.size
        width = _threads() if size >= min_elems else 1
        nb.set_num_threads(min(width, nb.config.NUMBA_NUM_THREADS))
        if _LAYER_IS_SAFE is None:
            out = fn(*args, **kwargs)  # the first call picks the layer
            try:
                _LAYER_IS_SAFE = nb.threading_layer() != "workqueue"
            except ValueError:  # no parallel kernel has run yet
                pass
            return out
        if _LAYER_IS_SAFE:
            return fn(*args, **kwargs)
        with _LOCK:
            return fn(*args, **kwargs)

    return run


# ---- stable scalar formulas (numba) -----------------------------------------------------------

# phi1'(x)'s series (DPHI1_COEF, SERIES_RADIUS) is the numerics layer's: imported at the top.
# Method codes of the selective discretizations (sel_disc); METHOD_CODE maps the names.
MAMBA, ZOH, BILINEAR, DIRAC, S7, RGLRU = range(6)
METHOD_CODE = {"mamba": MAMBA, "zoh": ZOH, "bilinear": BILINEAR, "dirac": DIRAC, "s7": S7,
               "rglru": RGLRU}


def _define():
    import math

    import numpy as np
    from numba.core import types
    from numba.extending import overload, register_jitable

    def _unit(t):
        """1j in complex type ``t`` (so re + J*im stays in t's precision)."""
        return np.complex64(1j) if t.bitwidth == 64 else np.complex128(1j)

    def recip(x):
        """1/x; complex x as conj(x/s) / (s |x/s|^2), s = max(|re|, |im|): one real division
        and no branches (numba's complex division, Smith's method, cost ~10 ns a call)."""

    @overload(recip, jit_options={"cache": True})
    def _recip(x):
        if isinstance(x, types.Complex):
            J = _unit(x)

            def impl(x):
                a, b = x.real, x.imag
                sc = max(abs(a), abs(b))
                a, b = a / sc, b / sc
                q = 1 / (sc * (a * a + b * b))
                return (a * q) - J * (b * q)

            return impl
        return lambda x: 1 / x

    def cexp(x):
        """e^x; complex x as e^re (cos im + i sin im)."""

    @overload(cexp, jit_options={"cache": True})
    def _cexp(x):
        if isinstance(x, types.Complex):
            J = _unit(x)

            def impl(x):
                e = math.exp(x.real)
                return e * math.cos(x.imag) + J * (e * math.sin(x.imag))

            return impl
        return lambda x: math.exp(x)

    def exp_phi1(x):
        """(e^x, (e^x - 1)/x) with phi1(0) = 1; e^x - 1 without cancellation (numerics.py)."""

    @overload(exp_phi1, jit_options={"cache": True})
    def _exp_phi1(x):
        if isinstance(x, types.Complex):
            J = _unit(x)

            def impl(x):
                a, b = x.real, x.imag
                ea, em = math.exp(a), math.expm1(a)
                h = math.sin(b / 2)
                hh = 2 * h * h  # 1 - cos b
                es = ea * (2 * h * math.cos(b / 2))  # e^a sin b
                E = (ea - ea * hh) + J * es
                M = (em - ea * hh) + J * es
                if x == 0:
                    return E, M * 0 + 1
                return E, M * recip(x)

            return impl

        def impl_real(x):
            em = math.expm1(x)  # one transcendental: e^x = expm1(x) + 1 to rounding
            if x == 0:
                return em + 1, em + 1
            return em + 1, em / x

        return impl_real

    @register_jitable
    def dphi1(x, E, phi):
        """d/dx phi1(x) = (e^x - phi1(x))/x; the Taylor series where that cancels."""
        if abs(x) < SERIES_RADIUS:
            s = x * 0 + DPHI1_COEF[16]
            for k in range(15, -1, -1):
                s = s * x + DPHI1_COEF[k]
            return s
        return (E - phi) / x

    # One softplus/sigmoid for the whole tier: numba_math's (torch's >20 rule, no overflow of
    # e^-x), so a forward and its VJP evaluate the same function.
    from . import numba_math

    softplus, sigmoid = numba_math.helpers()["softplus"], numba_math.helpers()["sigmoid"]

    def rglru_abar_gamma(dt, logA):
        """(a^dt, sqrt(max(0, -expm1(2 dt ln a)))): 1 - Abar^2 without cancellation."""

    @overload(rglru_abar_gamma, jit_options={"cache": True})
    def _rglru_abar_gamma(dt, logA):
        if isinstance(logA, types.Complex):  # rglru is real-only: typed, never run
            return lambda dt, logA: (logA * 0, logA * 0)

        one = np.float32(1) if logA == types.float32 else np.float64(1)  # no promotion
        two = one + one

        def impl(dt, logA):
            # One transcendental: em = e^x - 1 (expm1), Abar = em + 1 and
            # 1 - Abar^2 = -expm1(2x) = -em (em + 2), a product with no cancellation.
            em = math.expm1(dt * logA)
            g2 = -em * (em + two)
            return em + one, (math.sqrt(g2) if g2 > 0 else g2 * 0)

        return impl

    @register_jitable
    def conj(x):
        return np.conj(x)

    @register_jitable
    def sel_disc(m, A, dt, dtA, lnA):
        """(Abar at the A step dtA, gamma at the input step dt) of method code ``m``
        (numerics.selective_disc); both in A's type. ``lnA`` = ln A (rglru only)."""
        z = A * 0
        if m == MAMBA:
            return cexp(dtA * A), z + dt
        if m == ZOH:
            E, phi = exp_phi1(dt * A)
            return cexp(dtA * A), dt * phi
        if m == BILINEAR:
            xa = dtA * A / 2
            ia = recip(1 - xa)
            return (1 + xa) * ia, dt * (ia if dtA == dt else recip(1 - dt * A / 2))
        if m == DIRAC:
            return cexp(dtA * A), z + 1
        if m == S7:
            return z + (1 - 1 / (dtA * dtA + 0.5)), z + 1
        Ab, g = rglru_abar_gamma(dtA, lnA)
        return z + Ab, z + g

    @register_jitable
    def sel_disc_grad(m, A, dt, dtA, lnA, Ab, g):
        """(dAbar/ddtA, dAbar/dA, dgamma/ddt, dgamma/ddtA, dgamma/dA): holomorphic in A, from
        the values (Ab, g) of :func:`sel_disc` (numerics.selective_disc's partials)."""
        z = A * 0
        if m == MAMBA or m == DIRAC or m == ZOH:
            dg_ddt, dg_dA = z + (1 if m == MAMBA else 0), z
            if m == ZOH:
                x = dt * A
                E, phi = exp_phi1(x)
                dg_ddt, dg_dA = E, dt * dt * dphi1(x, E, phi)
            return A * Ab, dtA * Ab, dg_ddt, z, dg_dA
        if m == BILINEAR:
            ia = recip(1 - dtA * A / 2)
            s = ia if dtA == dt else recip(1 - dt * A / 2)
            return A * ia * ia, dtA * ia * ia, s * s, z, dt * dt * s * s / 2
        if m == S7:
            w = dtA * dtA + 0.5
            return z + 2 * dtA / (w * w), z, z, z, z
        dAb_ddtA, dAb_dA = Ab * lnA, dtA * Ab / A
        w = -Ab / g if g.real > 0 else z  # dgamma/dAbar; 0 where gamma = 0 (as lrnnx's kernel)
        return dAb_ddtA, dAb_dA, z, w * dAb_ddtA, w * dAb_dA

    # ---- vectorisable e^x over a buffer (numba_math: polynomial, no libm call) ------------
    _vexp_real = numba_math.helpers()["vexp"]

    def vexp(x, out, n):
        """out[:n] = e^x[:n] (real buffers by numba_math's polynomial; complex ones via cexp)."""

    @overload(vexp, jit_options={"cache": True})
    def _vexp(x, out, n):
        if isinstance(out.dtype, types.Complex):
            def impl(x, out, n):
                for j in range(n):
                    out[j] = cexp(x[j])

            return impl
        return lambda x, out, n: _vexp_real(x, out, n)

    return (cexp, exp_phi1, dphi1, softplus, sigmoid, rglru_abar_gamma, conj, sel_disc,
            sel_disc_grad, vexp)


@functools.cache
def scalars():
    """The jitted helpers: (cexp, exp_phi1, dphi1, softplus, sigmoid, rglru_abar_gamma, conj,
    sel_disc, sel_disc_grad, vexp)."""
    numba()
    return _define()
