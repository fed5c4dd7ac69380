"""``LTV_LRNN``: the base of the linear time-varying models (Mamba, RG-LRU, S5-LTV, S7).

An LTV model's transition depends on the input, so a sequence runs through a scan op and a
single token through the matching state-update op. This module holds what the four share:
lrnnx's ``forward(x, integration_timesteps=None, lengths=None, inference_cache=None)`` contract
(a cache whose ``seqlen_offset > 0`` runs one ``step``; a forward with a fresh cache is a prefill
that stores the final states), checks of inputs, time steps and caches with messages that name
the argument, the dtype rule (the computation runs at the promoted precision of the input and the
parameters; float16 in float32), and the depthwise causal convolution submodule of Mamba and
RG-LRU.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import MutableMapping

import numpy as np

from ..._backend import is_numpy
from ..._dispatch import check_flag
from ...layers._common import check_input, host_rng
from ...ops import causal_conv1d as _causal_conv1d
from ...ops import causal_conv1d_update as _causal_conv1d_update
from .._base import Module

__all__ = ["LTV_LRNN", "DepthwiseConv1d", "unchecked", "param_dtype"]


def unchecked(fn):
    """``fn`` with ``check_finite=False`` when it takes the keyword.

    Parameters are value-checked once, at construction and load, so the per-call value checks
    of the ops (a device sync each on GPU) are skipped where the op offers the switch.
    """
    try:
        takes = "check_finite" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        takes = False
    if not takes:
        return fn

    def call(*args, **kwargs):
        kwargs.setdefault("check_finite", False)
        return fn(*args, **kwargs)

    call.__name__ = getattr(fn, "__name__", "op")
    return call


_CONV = unchecked(_causal_conv1d)
_CONV_UPDATE = unchecked(_causal_conv1d_update)


def param_dtype(dtype) -> np.dtype:
    """The real parameter dtype named by ``dtype`` (None = float32, lrnnx's default)."""
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


def check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value, *, positive: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be {'> 0 and ' if positive else ''}finite, got {value}")
    return value


class DepthwiseConv1d(Module):
    """torch's ``Conv1d(D, D, K, groups=D, padding=K-1)`` truncated to causal: keys ``weight``
    (D, 1, K) and ``bias`` (D,), torch's default init U(±1/sqrt(K)); runs ``ops.causal_conv1d``.
    """

    def __init__(self, channels, width, bias=True, *, rng, dtype, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        bound = 1.0 / math.sqrt(width)
        self.register_parameter(
            "weight", self.asarray(rng.uniform(-bound, bound, (channels, 1, width)).astype(dtype)))
        self.has_bias = bool(bias)
        if self.has_bias:
            self.register_parameter(
                "bias", self.asarray(rng.uniform(-bound, bound, (channels,)).astype(dtype)))

    def _wb(self, dtype):
        xp = self.xp
        p = self._params
        w = p["weight"][:, 0, :]  # (D, 1, K) -> (D, K), a view (xp.reshape's wrapper: ~2 us)
        w = w if w.dtype == dtype else xp.astype(w, dtype)
        b = p["bias"] if self.has_bias else None
        if b is not None and b.dtype != dtype:
            b = xp.astype(b, dtype)
        return w, b

    def forward(self, x, activation=None):
        """x (B, D, L) -> (B, D, L)."""
        w, b = self._wb(x.dtype)
        return _CONV(x, w, b, activation)

    def step(self, x, conv_state, activation=None):
        """x (B, D), conv_state (B, D, K) updated in place -> (B, D)."""
        w, b = self._wb(x.dtype)
        return _CONV_UPDATE(x, conv_state, w, b, activation)


_NP_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_NP_XP: dict = {}


def _is_np_xp(xp) -> bool:
    found = _NP_XP.get(xp)
    if found is None:
        found = _NP_XP[xp] = bool(is_numpy(xp))
    return found


def last_inputs(xp, x, K):
    """The last K time steps of x (B, D, L), zero-padded on the left (lrnnx's conv_state)."""
    Bsz, D, L = x.shape
    if L >= K:
        return x[:, :, L - K:]
    return xp.concat([xp.zeros((Bsz, D, K - L), dtype=x.dtype), x], axis=-1)


class LTV_LRNN(Module):
    """Base class of the linear time-varying models (lrnnx ``models.ltv.LTV_LRNN``).

    Subclasses implement ``_forward(x, timesteps, cache)`` on a checked (B, L, H) input,
    ``_step(x, cache, timesteps)`` on a checked (B, H) token, ``allocate_inference_cache`` and
    ``_cache_shapes(batch_size)`` (key -> shape, for the cache checks).

    Parameters
    ----------
    d_model : int
        Model width H.
    seed : int, numpy Generator or None
        Host RNG of the initialisation (nothing global is touched).
    dtype : float32 (default) or float64
        Parameter dtype.
    xp, device : optional
        Namespace and device of the parameters.
    """

    #: Whether ``integration_timesteps`` changes the maths (Mamba, S5) or is ignored (RG-LRU, S7).
    uses_timesteps = False
    #: Accepted layouts of forward time steps: (B, L) and, for S5, (B, L, 1).
    timesteps_ndims = (2,)

    def __init__(self, d_model, *, seed=None, dtype=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.d_model = check_int("d_model", d_model)
        self.dtype = param_dtype(dtype)
        self._rng = host_rng(seed)

    # -- checks --------------------------------------------------------------------------------

    def _input(self, x, name="x"):
        """x as a (B, L, H) array of this module's namespace (float16 -> float32)."""
        H = self.d_model
        x = check_input(self, name, x, min_ndim=1)
        if x.ndim != 3 or x.shape[-1] != H:
            hint = ""
            if x.ndim == 3 and x.shape[1] == H:
                hint = "; it looks like (batch, d_model, seqlen): transpose its last two axes"
            raise ValueError(
                f"{type(self).__name__}: {name} must have layout (batch, seqlen, d_model) with "
                f"d_model = {H}, got shape {tuple(x.shape)}{hint}"
            )
        return x

    def _compute_dtype(self, x):
        xp = self.xp
        # The first parameter (every LTV model has its own; parameters() walks every child).
        p = next(iter(self._params.values()))
        return xp.result_type(x.dtype, xp.float32 if p.dtype == xp.float32 else p.dtype)

    def _timesteps(self, ts, batch, length=None):
        """``integration_timesteps`` checked (shape, dtype, >= 0, finite); None passes through.

        Forward (``length`` given): (B, L) [or (B, L, 1) where accepted] -> (B, L).
        Step: (B,) or (B, 1) -> (B,).
        """
        if ts is None or not self.uses_timesteps:
            return None
        owner = type(self).__name__
        ts = check_input(self, "integration_timesteps", ts, min_ndim=1)
        shp = tuple(ts.shape)
        if length is not None:
            ok = (len(shp) in self.timesteps_ndims and shp[:2] == (batch, length)
                  and (len(shp) == 2 or shp[2] == 1))
            layouts = ["(batch, seqlen)", "(batch, seqlen, 1)"]
            want = " or ".join(layouts[: len(self.timesteps_ndims)])
            want_shape = (batch, length)
        else:
            ok = shp in ((batch,), (batch, 1))
            want, want_shape = "(batch,) or (batch, 1)", (batch,)
        if not ok:
            raise ValueError(
                f"{owner}: integration_timesteps must have shape {want} = {want_shape}, "
                f"got {shp}"
            )
        xp = self.xp
        if not bool(xp.all(xp.isfinite(ts))) or bool(xp.any(ts < 0)):
            raise ValueError(
                f"{owner}: integration_timesteps must be finite and >= 0 (time elapsed between "
                "events), got negative or non-finite entries"
            )
        return xp.reshape(ts, want_shape)

    def _cache(self, cache, batch):
        """Check ``inference_cache`` against this model and batch size; returns it."""
        owner = type(self).__name__
        if not isinstance(cache, MutableMapping):
            raise TypeError(
                f"{owner}: inference_cache must be a dict from allocate_inference_cache, got "
                f"{type(cache).__name__}"
            )
        for key, shape in self._cache_shapes(batch).items():
            if key not in cache:
                raise KeyError(f"{owner}: inference_cache has no {key!r} entry (keys: "
                               f"{sorted(cache)}); build it with allocate_inference_cache")
            got = tuple(cache[key].shape)
            if got != shape:
                raise ValueError(
                    f"{owner}: inference_cache[{key!r}] has shape {got}, expected {shape} "
                    f"(batch size {batch}); was it allocated for another batch size or model?"
                )
        off = cache.get("seqlen_offset", 0)
        if isinstance(off, (bool, np.bool_)) or not isinstance(off, (int, np.integer)) or off < 0:
            raise ValueError(f"{owner}: inference_cache['seqlen_offset'] must be an int >= 0, "
                             f"got {off!r}")
        return cache

    # -- the lrnnx contract --------------------------------------------------------------------

    def forward(self, x, integration_timesteps=None, lengths=None, inference_cache=None):
        """Run a sequence (B, L, H) -> (B, L, H); see the subclass for the maths.

        ``lengths`` is accepted and ignored, as in lrnnx. With ``inference_cache`` whose
        ``seqlen_offset > 0`` this runs :meth:`step` on the single token of ``x``; with a fresh
        cache (offset 0) it is a prefill: the final conv and recurrent states are stored in it
        (``seqlen_offset`` is left unchanged, as in lrnnx).
        """
        x = self._input(x)
        Bsz, L, _ = x.shape
        if inference_cache is not None:
            self._cache(inference_cache, Bsz)
            if inference_cache["seqlen_offset"] > 0:
                if L != 1:
                    raise ValueError(
                        f"{type(self).__name__}: a cache with seqlen_offset > 0 runs one step, "
                        f"so x must have seqlen 1, got shape {tuple(x.shape)}"
                    )
                return self.step(x, inference_cache, integration_timesteps)[0]
        ts = self._timesteps(integration_timesteps, Bsz, L)
        dt = self._compute_dtype(x)
        x = x if x.dtype == dt else self.xp.astype(x, dt)
        return self._forward(x, ts, inference_cache)

    def step(self, x, inference_cache, integration_timesteps=None):
        """One token: x (B, 1, H) -> ((B, 1, H), inference_cache), the cache updated in place.

        Every argument is checked before any state is written: the token's type, dtype and
        shape, the cache's keys and shapes for this batch size, the time steps' shape and
        values. Parameters are not re-checked per token (they are checked when set or loaded).
        """
        owner = type(self).__name__
        if inference_cache is None:
            raise TypeError(f"{owner}.step: inference_cache is required (a dict "
                            "from allocate_inference_cache), got None")
        x = self._step_token(x)
        if x.ndim == 3 and x.shape[1] != 1:
            raise ValueError(f"{owner}.step: x must have shape (batch, 1, d_model), "
                             f"got {tuple(x.shape)}")
        if x.ndim == 2 and self._accepts_2d_step:
            x = x[:, None, :]
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            self._input(x)  # raises with the layout message
        Bsz = x.shape[0]
        self._cache(inference_cache, Bsz)
        ts = self._timesteps(integration_timesteps, Bsz)
        dt = self._compute_dtype(x)
        tok = x[:, 0, :]
        tok = tok if tok.dtype == dt else self.xp.astype(tok, dt)
        y = self._step(tok, inference_cache, ts)
        inference_cache["seqlen_offset"] = int(inference_cache["seqlen_offset"]) + 1
        return y[:, None, :], inference_cache

    def _step_token(self, x):
        """``check_input`` of a step's x, with a fast path for the common case (a float32 or
        float64 NumPy array for a NumPy model on the default device): a decode loop calls this
        once per token per layer, and the full check (namespace detection) cost several us."""
        if (type(x) is np.ndarray and x.dtype in _NP_FLOATS and self.device is None
                and _is_np_xp(self.xp)):
            return x
        return check_input(self, "x", x, min_ndim=1)

    _accepts_2d_step = False

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        """A zero cache for ``batch_size`` sequences (``max_seqlen`` is unused, as in lrnnx)."""
        batch_size = check_int("batch_size", batch_size, 0)
        check_int("max_seqlen", max_seqlen, 0)
        dt = self.dtype if dtype is None else param_dtype(dtype)
        shapes = self._cache_shapes(batch_size)
        cache = {k: self._zeros(shape, dt, k) for k, shape in shapes.items()}
        cache["seqlen_offset"] = 0
        return cache

    def _zeros(self, shape, dtype, key):
        return self.asarray(np.zeros(shape, dtype=dtype))

    # -- helpers for subclasses ------------------------------------------------------------------

    def _cast(self, v, dtype):
        return v if v.dtype == dtype else self.xp.astype(v, dtype)

    def _bmT(self, x):
        """(B, L, C) <-> (B, C, L)."""
        return self.xp.permute_dims(x, (0, 2, 1))

    def _w(self, layer, dtype, rows=None):
        """``layer``'s weight (optionally a row slice) and bias in ``dtype``."""
        p = layer._params  # the dict itself: attribute lookup goes through Module.__getattr__
        w, b = p["weight"], p.get("bias")
        if rows is not None:
            w, b = w[rows, :], (None if b is None else b[rows])
        return self._cast(w, dtype), (None if b is None else self._cast(b, dtype))

    def _rows(self, layer, v):
        """``layer`` on v (B, C) without the layer's input checks (the model checked it); the
        operators, not xp.matmul/matrix_transpose, whose wrappers cost ~3 us a call here."""
        w, b = self._w(layer, v.dtype)
        y = v @ w.T
        return y if b is None else y + b

    def _cf(self, layer, v, rows=None):
        """``layer`` applied to the channels of v (B, C, L), channels first: (B, C_out, L).

        ``W @ v`` per batch entry is one GEMM whose output is already in the scans' (B, D, L)
        layout (no transpose copies); v may be a transposed view such as ``x.mT`` of a
        (B, L, H) input (BLAS reads it as a column-major operand).
        """
        w, b = self._w(layer, v.dtype, rows)
        y = self.xp.matmul(w, v)
        return y if b is None else y + b[:, None]

    def _cl(self, layer, v):
        """``layer`` applied to the channels of v (B, C, L), returned channels last (B, L, C_out)
        (the (B, L, H) output layout) as one GEMM on the transposed view of v."""
        w, b = self._w(layer, v.dtype)
        y = self.xp.matmul(self._bmT(v), self.xp.matrix_transpose(w))
        return y if b is None else y + b

    @staticmethod
    def _flag(name, value):
        return check_flag(name, value)
