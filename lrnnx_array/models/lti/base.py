"""``LTI_LRNN``: the base of every linear time-invariant model (S4, S4D, S5, LRU, Centaurus).

An LTI model's transition does not depend on the input, so its whole response to a sequence is a
causal convolution with a kernel built once per length (``discretize`` then ``compute_kernel``),
and its single-token recurrence uses matrices built once per cache
(``allocate_inference_cache`` then ``step``). This module holds what the subclasses share:
argument checking with messages that name the argument, the dtype rules (the computation runs at
the promoted precision of the input and the parameters, float16 in float32), host-side
initialisation from ``numpy.random.default_rng(seed)``, and the kernel of powers
:math:`\\bar A^l` computed from :math:`\\log \\bar A` with the phase in float64.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

import numpy as np

from ... import _backend, _checks
from ..._backend import namespace
from ...ops import fft_conv_channels as _fft_conv_channels
from ...ops import ssm_conv as _ssm_conv
from .._base import KernelCache, Module

__all__ = ["LTI_LRNN", "with_unchecked"]


def with_unchecked(fn):
    """``fn`` with ``check_finite=False`` bound when it takes that keyword.

    Model parameters are value-checked once (construction and load), so the per-call value
    checks of the ops (a device sync each) are skipped where the op offers the switch.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return fn
    if "check_finite" not in params:
        return fn

    def call(*args, **kwargs):
        kwargs.setdefault("check_finite", False)
        return fn(*args, **kwargs)

    call.__name__ = getattr(fn, "__name__", "op")
    call.__doc__ = fn.__doc__
    return call


_SSM_CONV = with_unchecked(_ssm_conv)
_CHANNEL_CONV = with_unchecked(_fft_conv_channels)


def _param_dtype(dtype) -> np.dtype:
    """The real parameter dtype named by ``dtype`` (None = float32, lrnnx's)."""
    if dtype is None:
        return np.dtype(np.float32)
    name = str(getattr(dtype, "name", dtype)).split(".")[-1].strip("'>")
    try:
        dt = np.dtype(name)
    except TypeError:
        dt = None
    if dt is None or dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64 (None = float32), got {dtype!r}")
    return dt


class LTI_LRNN(Module):  # noqa: N801 (lrnnx's name)
    """Base class of the linear time-invariant models (lrnnx ``models.lti.LTI_LRNN``).

    Parameters
    ----------
    discretization : {"zoh", "bilinear", "dirac", "no_discretization"}
        Discretization of the continuous-time system (subclasses may accept fewer or more; LTI
        models never accept "async", which needs time-varying dynamics).
    seed : int or None, optional
        Seed of the host-side ``numpy.random.default_rng`` that draws the initial parameters (no
        global RNG state is used). None draws fresh entropy.
    dtype : {None, "float32", "float64"}, optional
        Real parameter dtype (complex parameters get the matching complex dtype). None is
        float32, lrnnx's, so lrnnx checkpoints round-trip exactly.
    xp : namespace, optional
        Array namespace the parameters live in (``numpy``, ``cupy``, ``array_api_strict``);
        default NumPy.
    device : optional
        Device of that namespace.

    Notes
    -----
    Subclasses implement ``discretize()``, ``compute_kernel(...)``, ``forward(x,
    integration_timesteps=None, lengths=None)``, ``step(x, inference_cache)`` and
    ``allocate_inference_cache(batch_size, max_seqlen=1, dtype=None)``. Forward inputs are (B, L,
    H) unless a model says otherwise; step inputs are (B, H) and the cache dict is updated and
    returned. Parameters are never modified by a forward or a step.

    In eval mode (``.eval()``) a forward keeps what it derives from the parameters for its
    length (the kernel, the discretised matrices) and reuses it while every parameter is the
    same array with the same contents (a CRC of NumPy arrays, the version counter of torch
    tensors), so a load, ``.to``, an assignment or an in-place/optimizer update recomputes it.
    Training mode, torch with gradients enabled, and CuPy arrays always recompute.

    Examples
    --------
    >>> from lrnnx_array.models.lti import LTI_LRNN
    >>> base = LTI_LRNN("zoh")
    >>> base.discretization
    'zoh'
    """

    DISCRETIZATIONS: tuple[str, ...] = ("zoh", "bilinear", "dirac", "no_discretization")

    def __init__(self, discretization, *, seed=None, dtype=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        if discretization in ("async", "async_") and "async" not in self.DISCRETIZATIONS:
            raise ValueError(
                f"discretization must be one of {self.DISCRETIZATIONS}, got {discretization!r}: "
                "async needs time-varying dynamics, use an LTV model (lrnnx_array.models.ltv)")
        _checks.check_option("discretization", discretization, self.DISCRETIZATIONS)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.discretization = discretization
        self.seed = seed
        self.param_dtype = _param_dtype(dtype)
        self._rng = np.random.default_rng(seed)
        # eval mode: what the forward derives from the parameters for one length (the kernel,
        # the discretised input/output matrices), kept while the parameters are unchanged
        object.__setattr__(self, "_kernel_cache", KernelCache())

    # -- the interface (abstract) --------------------------------------------------------------

    def discretize(self):
        """Discrete (A_bar, gamma_bar or B_bar, C) from the parameters (subclass)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement discretize()")

    def compute_kernel(self, *args, **kwargs):
        """Convolution kernel ``(K (N, L), B_norm (N, H))`` for one length (subclass)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_kernel()")

    def step(self, x, inference_cache):
        """One recurrent step: ``(y (B, H), inference_cache)`` (subclass)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def allocate_inference_cache(self, batch_size, max_seqlen=1, dtype=None):
        """Zero state and the step matrices, as a dict (subclass)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement allocate_inference_cache()")

    def forward(self, x, integration_timesteps=None, lengths=None):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    # -- construction helpers ------------------------------------------------------------------

    @property
    def complex_param_dtype(self) -> np.dtype:
        return np.result_type(self.param_dtype, np.complex64)

    def _init_param(self, name: str, host, complex_: bool = False) -> None:
        """Register ``host`` (a float64/complex128 NumPy array) at the parameter dtype."""
        dt = self.complex_param_dtype if complex_ else self.param_dtype
        host = np.asarray(host)
        if not np.all(np.isfinite(host)):
            raise ValueError(f"initial value of parameter {name!r} is not finite; check the "
                             "constructor arguments")
        self.register_parameter(name, host.astype(dt))

    @staticmethod
    def _check_dim(name: str, value, minimum: int = 1) -> int:
        return _checks.check_positive_int(name, value, minimum)

    @staticmethod
    def _check_real(name: str, value, *, low=None, high=None, low_open=False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {value!r}")
        if low is not None and (v < low or (low_open and v == low)):
            op = ">" if low_open else ">="
            raise ValueError(f"{name} must be {op} {low}, got {value!r}")
        if high is not None and v > high:
            raise ValueError(f"{name} must be <= {high}, got {value!r}")
        return v

    # -- dtype rules ---------------------------------------------------------------------------

    def _param_real_dtype(self):
        """The real dtype of the parameters as they are stored now (``.to`` may cast them)."""
        xp = self.xp
        for v in self._params.values():
            return _checks.real_dtype_of(xp, v.dtype)
        return xp.float32 if self.param_dtype == np.float32 else xp.float64

    def _dtypes(self, *arrays):
        """(real, complex) computation dtypes: the inputs promoted with the parameters."""
        xp = self.xp
        rdt = self._param_real_dtype()
        present = [a.dtype for a in arrays if a is not None]
        if present:
            rdt = _checks.real_dtype_of(xp, _checks.result_dtype(xp, *present, rdt))
        return rdt, _checks.complex_dtype_of(xp, rdt)

    def _cast(self, a, dtype):
        return a if a.dtype == dtype else self.xp.astype(a, dtype)

    def _cache_dtypes(self, dtype):
        """(real, complex) dtypes of a new cache (``dtype`` None = the parameters')."""
        xp = self.xp
        if dtype is None:
            rdt = self._param_real_dtype()
        else:
            name = str(getattr(dtype, "name", dtype)).split(".")[-1].strip("'>")
            table = {"float32": xp.float32, "float64": xp.float64, "complex64": xp.float32,
                     "complex128": xp.float64, "float16": xp.float32}
            if name not in table:
                raise ValueError(f"dtype must be a float or complex dtype (or None), got "
                                 f"{dtype!r}")
            rdt = table[name]
        return rdt, _checks.complex_dtype_of(xp, rdt)

    # -- input checks --------------------------------------------------------------------------

    def _check_array(self, name: str, x, layout: str):
        if x is None:
            raise TypeError(f"{name} must be an array of shape {layout}, got None")
        if type(x) is np.ndarray and self.device is None and _backend.is_numpy(self.xp):
            # a plain NumPy array for a NumPy model: the namespace is known (decode steps call
            # this per token; the general detection costs several microseconds)
            _checks.check_array_dtype(self.xp, name, x, allow_complex=False)
            return
        xp = namespace(x, names=(name,))
        if xp is not self.xp:
            raise TypeError(
                f"{name} is a {getattr(xp, '__name__', xp)} array but the parameters of "
                f"{type(self).__name__} live in {getattr(self.xp, '__name__', self.xp)}; "
                "move the model with .to(xp) or convert the input")
        _checks.check_array_dtype(xp, name, x, allow_complex=False)
        if self.device is not None:
            from ..._backend import device as _device

            if str(_device(x)) != str(self.device):
                raise ValueError(f"{name} is on device {_device(x)} but the parameters of "
                                 f"{type(self).__name__} are on {self.device}")

    def _check_sequence(self, x, width: int, name: str = "x", width_name: str = "d_model"):
        """Validate a (B, L, H) input; returns (B, L)."""
        layout = f"(batch, L, {width_name}={width})"
        self._check_array(name, x, layout)
        _checks.check_ndim(name, x, 3, layout)
        if x.shape[2] != width:
            raise ValueError(f"{name} must have shape {layout}, got {tuple(x.shape)} "
                             f"(last axis {x.shape[2]} != {width_name}={width})")
        return x.shape[0], x.shape[1]

    def _check_token(self, x, width: int, cache: Mapping, keys, name: str = "x",
                     width_name: str = "d_model"):
        """Validate a step's (B, H) input and its cache (as made by allocate_inference_cache)."""
        layout = f"(batch, {width_name}={width})"
        self._check_array(name, x, layout)
        _checks.check_ndim(name, x, 2, layout)
        if x.shape[1] != width:
            raise ValueError(f"{name} must have shape {layout}, got {tuple(x.shape)}")
        if not isinstance(cache, Mapping):
            raise TypeError("inference_cache must be the dict returned by "
                            f"allocate_inference_cache, got {type(cache).__name__}")
        missing = [k for k in keys if k not in cache]
        if missing:
            raise KeyError(f"inference_cache lacks {missing}; make it with "
                           f"{type(self).__name__}.allocate_inference_cache")
        batch = cache["lrnn_state"].shape[0]
        if x.shape[0] != batch:
            raise ValueError(f"{name} has batch {x.shape[0]} but inference_cache['lrnn_state'] "
                             f"was allocated for batch {batch}")

    @staticmethod
    def _check_cache_args(batch_size, max_seqlen) -> int:
        b = _checks.check_positive_int("batch_size", batch_size, 0)
        _checks.check_positive_int("max_seqlen", max_seqlen, 1)
        return b

    # -- kernels -------------------------------------------------------------------------------

    def _powers(self, log_a, L: int, cdt, real: bool = False):
        """``exp(l * log_a)`` for l = 0..L-1, shape ``log_a.shape + (L,)``, as ``cdt``.

        Magnitude and phase are formed in float64 with the phase reduced modulo 2 pi, so a
        float32 model loses no phase accuracy at large l (the product l * Im(log a) in float32
        is off by about l ulp); ``log_a = -inf`` (a zero pole) gives 1 at l = 0 and 0 after.
        ``real=True`` returns only Re (``cdt`` is then the real output dtype): no sin, no
        complex exp.
        """
        xp = self.xp
        kw = {} if self.device is None else {"device": self.device}
        lg = self._cast(log_a, xp.complex128)
        ell = xp.arange(L, dtype=xp.float64, **kw)
        # a zero pole (log = -inf) becomes a huge finite decay: exp gives exactly 0 for l >= 1
        re = xp.clip(xp.real(lg), min=-1e30)[..., None] * ell
        phase = xp.remainder(xp.imag(lg)[..., None] * ell, 2 * math.pi)
        if real:
            return self._cast(xp.exp(re) * xp.cos(phase), cdt)
        z = xp.astype(re, xp.complex128) + xp.astype(phase, xp.complex128) * 1j
        return self._cast(xp.exp(z), cdt)

    def _kernel_parts(self, L: int, rdt, compute):
        """``compute()`` (the forward's parameter-derived arrays for length ``L`` at ``rdt``),
        reused in eval mode while every parameter and buffer is the same, unchanged array."""
        arrays = tuple(self._params.values()) + tuple(
            v for v in self._buffers.values() if v is not None)
        return self._kernel_cache.get(self, "kernel", (int(L), str(rdt)), arrays, compute)

    def _ssm_conv(self, x, K, B_bar, C, rdt):
        """Re of the modal convolution (ops.ssm_conv) at real dtype ``rdt``; empty in, empty out."""
        Bn, L, _ = x.shape
        if Bn == 0 or L == 0:
            return self._zeros((Bn, L, C.shape[0]), rdt)
        return self._cast(_SSM_CONV(x, K, B_bar, C), rdt)

    def _channel_conv(self, u, k, rdt):
        """Per-channel causal convolution along the last axis (ops.fft_conv_channels)."""
        if 0 in tuple(u.shape):
            return self._zeros(tuple(np.broadcast_shapes(tuple(u.shape), tuple(k.shape))), rdt)
        return self._cast(_CHANNEL_CONV(u, k), rdt)

    def _zeros(self, shape, dtype):
        kw = {} if self.device is None else {"device": self.device}
        return self.xp.zeros(shape, dtype=dtype, **kw)

    def extra_repr(self) -> str:
        return f"discretization={self.discretization!r}"
