"""Mamba (S6) with lrnnx's discretizations and the STREAM event mode (lrnnx models/ltv/mamba.py)."""

from __future__ import annotations

import math

import numpy as np

from ...layers import Linear, softplus
from ...ops import selective_scan as _selective_scan
from ._direct import conv_update, selective_update
from .base import LTV_LRNN, DepthwiseConv1d, check_int, check_real, last_inputs, unchecked

__all__ = ["Mamba"]

_SCAN = unchecked(_selective_scan)
DISCRETIZATIONS = ("mamba", "zoh", "bilinear", "dirac")


class Mamba(LTV_LRNN):
    r"""Mamba block: in_proj, depthwise causal conv + SiLU, selective scan gated by SiLU(z),
    out_proj.

    Parameters
    ----------
    d_model : int
        Model width H.
    d_state : int, default 16
        State size N per channel.
    d_conv : int, default 4
        Width K of the depthwise causal convolution.
    expand : int, default 2
        Inner width D = expand * d_model.
    dt_rank : int or "auto", default "auto"
        Rank r of the time-step projection; "auto" is ceil(d_model / 16).
    dt_min, dt_max : float, default 1e-3, 0.1
        Range of the initial time steps (log-uniform); ``dt_proj.bias`` = softplus⁻¹(dt).
    dt_init : {"random", "constant"}, default "random"
        ``dt_proj.weight`` ~ U(±r^{-1/2} dt_scale), or that bound everywhere.
    dt_scale : float, default 1.0
    dt_init_floor : float, default 1e-4
        Lower clamp of the initial dt.
    conv_bias : bool, default True
    bias : bool, default False
        Biases of ``in_proj`` and ``out_proj``.
    use_fast_path : bool, default True
        Accepted for lrnnx compatibility; there is one path (lrnnx's fused path is broken and
        ignores ``discretization``).
    layer_idx : int, optional
        Stored, as in lrnnx.
    device, dtype : optional
        Parameter device and dtype (float32 default, float64 runs end to end).
    discretization : {"mamba", "zoh", "bilinear", "dirac"}, default "mamba"
    seed, xp : optional
        Host RNG seed of the initialisation; array namespace.

    Notes
    -----
    With :math:`\Delta = \mathrm{softplus}(W_\Delta x_{dt} + b_\Delta)` and A = −exp(A_log), the
    scan is :math:`h_t = \bar A_t h_{t-1} + \bar\gamma_t B_t x_t`, :math:`y = (C_t h_t + D x_t)
    \,\mathrm{silu}(z_t)`. In event mode (``integration_timesteps`` τ of shape (B, L)) the
    A-discretisation uses :math:`\Delta^A = \tau\,\mathrm{softplus}(b^A)` with ``dtA_proj.bias``
    (its weight is unused, as in lrnnx); the input term keeps Δ. The step uses the same Ā as the
    scan for every discretization (lrnnx's bilinear step uses exp(ΔA)).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.ltv import Mamba
    >>> m = Mamba(8, d_state=4, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    >>> m(x).shape
    (2, 5, 8)
    >>> cache = m.allocate_inference_cache(2, 5)
    >>> y, cache = m.step(x[:, :1], cache)
    >>> y.shape, cache["seqlen_offset"]
    ((2, 1, 8), 1)
    """

    uses_timesteps = True

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank="auto", dt_min=1e-3,
                 dt_max=0.1, dt_init="random", dt_scale=1.0, dt_init_floor=1e-4, conv_bias=True,
                 bias=False, use_fast_path=True, layer_idx=None, device=None, dtype=None,
                 discretization="mamba", *, seed=None, xp=None):
        super().__init__(d_model, seed=seed, dtype=dtype, xp=xp, device=device)
        H = self.d_model
        self.d_state = N = check_int("d_state", d_state)
        self.d_conv = K = check_int("d_conv", d_conv)
        self.expand = check_int("expand", expand)
        self.d_inner = Di = self.expand * H
        if isinstance(dt_rank, str):
            if dt_rank != "auto":
                raise ValueError(f"dt_rank must be 'auto' or an int, got {dt_rank!r}")
            dt_rank = math.ceil(H / 16)
        self.dt_rank = r = check_int("dt_rank", dt_rank)
        dt_min, dt_max = check_real("dt_min", dt_min, positive=True), check_real(
            "dt_max", dt_max, positive=True)
        if dt_min > dt_max:
            raise ValueError(f"dt_min must be <= dt_max, got {dt_min} > {dt_max}")
        dt_scale = check_real("dt_scale", dt_scale)
        dt_init_floor = check_real("dt_init_floor", dt_init_floor, positive=True)
        if dt_init not in ("random", "constant"):
            raise ValueError(f"dt_init must be 'random' or 'constant', got {dt_init!r}")
        if discretization not in DISCRETIZATIONS:
            raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got "
                             f"{discretization!r}")
        self.discretization = discretization
        self.use_fast_path = self._flag("use_fast_path", use_fast_path)
        self._flag("conv_bias", conv_bias)
        self._flag("bias", bias)
        self.layer_idx = layer_idx
        rng, dt = self._rng, self.dtype
        kw = dict(dtype=dt.name, xp=self.xp, device=device)

        # A = -(1..N) per channel (S4D-real), stored as its log.
        a_log = np.log(np.tile(np.arange(1, N + 1, dtype=np.float64), (Di, 1)))
        self.register_parameter("A_log", self.asarray(a_log.astype(dt)))
        self.register_parameter("D", self.asarray(np.ones(Di, dtype=dt)))
        self.in_proj = Linear(H, 2 * Di, bias=bias, seed=rng, **kw)
        self.conv1d = DepthwiseConv1d(Di, K, conv_bias, rng=rng, **kw)
        self.x_proj = Linear(Di, r + 2 * N, bias=False, seed=rng, **kw)
        self.dt_proj = Linear(r, Di, bias=True, seed=rng, **kw)
        std = r ** -0.5 * dt_scale
        w = (np.full((Di, r), std) if dt_init == "constant" else rng.uniform(-std, std, (Di, r)))
        # dt log-uniform in [dt_min, dt_max], floored; the bias is its softplus inverse
        # dt + log(-expm1(-dt)), so softplus(bias) = dt exactly.
        dt0 = np.exp(rng.uniform(math.log(dt_min), math.log(dt_max), Di))
        dt0 = np.maximum(dt0, dt_init_floor)
        self.dt_proj.weight = self.asarray(w.astype(dt))
        self.dt_proj.bias = self.asarray((dt0 + np.log(-np.expm1(-dt0))).astype(dt))
        self.dtA_proj = Linear(r, Di, bias=True, seed=rng, **kw)
        self.out_proj = Linear(Di, H, bias=bias, seed=rng, **kw)

    def _cache_shapes(self, batch):
        return {"conv_state": (batch, self.d_inner, self.d_conv),
                "lrnn_state": (batch, self.d_inner, self.d_state)}

    def _ssm_params(self, dtype):
        xp = self.xp
        A = -xp.exp(self._cast(self.A_log, dtype))
        return (A, self._cast(self.D, dtype), self._cast(self.dt_proj.weight, dtype),
                self._cast(self.dt_proj.bias, dtype))

    def _delta_A(self, ts, dtype):
        """Event mode: Δᴬ = τ·softplus(dtA_proj.bias); (B, D, L) from τ (B, L), (B, D) from (B,)."""
        if ts is None:
            return None
        xp = self.xp
        rate = softplus(self._cast(self.dtA_proj.bias, dtype), xp)
        ts = self._cast(ts, dtype)
        if ts.ndim == 2:
            return ts[:, None, :] * rate[None, :, None]
        return ts[:, None] * rate[None, :]

    def _forward(self, x, ts, cache):
        xp = self.xp
        dtype = x.dtype
        Di, N, r = self.d_inner, self.d_state, self.dt_rank
        # Channels first throughout: each projection is a GEMM whose output is already the
        # scan's (B, D, L) layout, so no transpose is ever copied.
        xz = self._cf(self.in_proj, self._bmT(x))  # (B, 2D, L)
        u, z = xz[:, :Di, :], xz[:, Di:, :]
        if cache is not None:
            cache["conv_state"][...] = self._cast(last_inputs(xp, u, self.d_conv),
                                                  cache["conv_state"].dtype)
        u = self.conv1d(u, "silu")
        x_dbl = self._cf(self.x_proj, u)  # (B, r + 2N, L)
        A, D, W_dt, b_dt = self._ssm_params(dtype)
        delta = xp.matmul(W_dt, x_dbl[:, :r, :])  # (B, D, L)
        Bm, Cm = x_dbl[:, r:r + N, :], x_dbl[:, r + N:, :]
        out = _SCAN(u, delta, A, Bm, Cm, D, z, delta_bias=b_dt, delta_softplus=True,
                    return_last_state=cache is not None, discretization=self.discretization,
                    deltaA=self._delta_A(ts, dtype))
        if cache is not None:
            out, last = out
            cache["lrnn_state"][...] = self._cast(last, cache["lrnn_state"].dtype)
        return self._cl(self.out_proj, out)

    def _step(self, x, cache, ts):
        xp = self.xp
        dtype = x.dtype
        Di, N, r = self.d_inner, self.d_state, self.dt_rank
        xz = self._rows(self.in_proj, x)  # (B, 2D)
        u, z = xz[:, :Di], xz[:, Di:]
        u = conv_update(xp, u, cache["conv_state"], *self.conv1d._wb(dtype), "silu")
        x_db = self._rows(self.x_proj, u)
        A, D, W_dt, b_dt = self._ssm_params(dtype)
        dt = x_db[:, :r] @ W_dt.T
        y = selective_update(xp, cache["lrnn_state"], u, dt, A, x_db[:, r:r + N],
                             x_db[:, r + N:], D, z, dt_bias=b_dt, softplus=True,
                             deltaA=self._delta_A(ts, dtype), method=self.discretization)
        return self._rows(self.out_proj, y)
