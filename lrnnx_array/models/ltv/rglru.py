"""RG-LRU (Griffin's real-gated linear recurrent unit) as lrnnx's models/ltv/rglru.py."""

from __future__ import annotations

import numpy as np

from ...layers import Linear, gelu, sigmoid
from ...ops import rglru_scan as _rglru_scan
from ._direct import conv_update, selective_update
from .base import LTV_LRNN, DepthwiseConv1d, check_int, check_real, last_inputs, unchecked

__all__ = ["RGLRU"]

_SCAN = unchecked(_rglru_scan)


class RGLRU(LTV_LRNN):
    r"""RG-LRU block: GELU gate branch, and in_proj -> causal conv -> gated diagonal recurrence.

    Parameters
    ----------
    d_model : int
        Model width H.
    d_conv : int, default 4
        Width of the depthwise causal convolution (no activation after it).
    expand : int, default 1
        Inner width D = expand * d_model.
    c : float, default 8.0
        Exponent scale of the decay, :math:`a^{c r_t}`.
    a_init_range : (float, float), default (0.9, 0.999)
        Range of the initial decay a = sigmoid(a_log), drawn uniformly.
    conv_bias, bias : bool, default True, False
        Bias of the conv; biases of ``gate_proj``, ``in_proj`` and ``out_proj``.
    use_fast_path : bool, default True
        Accepted for lrnnx compatibility (one path here).
    layer_idx, device, dtype, seed, xp : optional
        As for :class:`Mamba`.

    Notes
    -----
    gate = GELU(W_g x); u = conv(W_in x); r = σ(W_r u + b_r); i = σ(W_i u + b_i); a = σ(a_log);

    .. math:: h_t = a^{c r_t} h_{t-1} + \sqrt{1 - a^{2 c r_t}}\,(i_t u_t),\qquad
              \mathrm{out} = W_{out}(\mathrm{gate} \odot h).

    lrnnx initialises ``a_log = log(a)`` but evaluates ``a = σ(a_log)`` (so a ≈ 0.47–0.50 at
    init); here ``a_log = logit(a)`` so that σ(a_log) lies in ``a_init_range`` as intended, with
    the same forward maths (an lrnnx checkpoint gives lrnnx's outputs).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.ltv import RGLRU
    >>> m = RGLRU(8, seed=0)
    >>> m(np.ones((2, 5, 8), dtype=np.float32)).shape
    (2, 5, 8)
    """

    def __init__(self, d_model, d_conv=4, expand=1, c=8.0, a_init_range=(0.9, 0.999),
                 conv_bias=True, bias=False, use_fast_path=True, layer_idx=None, device=None,
                 dtype=None, *, seed=None, xp=None):
        super().__init__(d_model, seed=seed, dtype=dtype, xp=xp, device=device)
        H = self.d_model
        self.d_conv = K = check_int("d_conv", d_conv)
        self.expand = check_int("expand", expand)
        self.d_inner = Di = self.expand * H
        self.c = check_real("c", c)
        try:
            lo, hi = (check_real("a_init_range[0]", a_init_range[0]),
                      check_real("a_init_range[1]", a_init_range[1]))
        except (TypeError, IndexError, KeyError):
            raise TypeError(
                f"a_init_range must be a pair of floats, got {a_init_range!r}"
            ) from None
        if not 0 < lo <= hi < 1:
            raise ValueError(f"a_init_range must satisfy 0 < low <= high < 1, got {a_init_range!r}")
        self.use_fast_path = self._flag("use_fast_path", use_fast_path)
        self._flag("conv_bias", conv_bias)
        self._flag("bias", bias)
        self.layer_idx = layer_idx
        rng, dt = self._rng, self.dtype
        kw = dict(dtype=dt.name, xp=self.xp, device=device)
        a = rng.uniform(lo, hi, (Di, 1))
        self.register_parameter("a_log", self.asarray((np.log(a) - np.log1p(-a)).astype(dt)))
        self.gate_proj = Linear(H, Di, bias=bias, seed=rng, **kw)
        self.in_proj = Linear(H, Di, bias=bias, seed=rng, **kw)
        self.conv1d = DepthwiseConv1d(Di, K, conv_bias, rng=rng, **kw)
        self.recurrent_gate_proj = Linear(Di, Di, bias=True, seed=rng, **kw)
        self.input_gate_proj = Linear(Di, Di, bias=True, seed=rng, **kw)
        self.out_proj = Linear(Di, H, bias=bias, seed=rng, **kw)

    def _cache_shapes(self, batch):
        return {"conv_state": (batch, self.d_inner, self.d_conv),
                "lrnn_state": (batch, self.d_inner, 1)}

    def _a(self, dtype):
        return sigmoid(self._cast(self.a_log, dtype), self.xp)

    def _forward(self, x, ts, cache):
        xp = self.xp
        # Channels first throughout (every projection a GEMM into the scan's (B, D, L) layout).
        xT = self._bmT(x)
        gate = gelu(self._cf(self.gate_proj, xT), xp)
        u = self._cf(self.in_proj, xT)  # (B, D, L), pre-convolution
        if cache is not None:
            cache["conv_state"][...] = self._cast(last_inputs(xp, u, self.d_conv),
                                                  cache["conv_state"].dtype)
        u = self.conv1d(u)
        delta = self.c * sigmoid(self._cf(self.recurrent_gate_proj, u), xp)
        i = sigmoid(self._cf(self.input_gate_proj, u), xp)
        out = _SCAN(i * u, delta, self._a(x.dtype), return_last_state=cache is not None)
        if cache is not None:
            out, last = out
            cache["lrnn_state"][...] = self._cast(last, cache["lrnn_state"].dtype)
        return self._cl(self.out_proj, gate * out)

    def _step(self, x, cache, ts):
        xp = self.xp
        gate = gelu(self._rows(self.gate_proj, x), xp)
        u = conv_update(xp, self._rows(self.in_proj, x), cache["conv_state"],
                        *self.conv1d._wb(x.dtype), None)
        delta = self.c * sigmoid(self._rows(self.recurrent_gate_proj, u), xp)
        i = sigmoid(self._rows(self.input_gate_proj, u), xp)
        ones = xp.ones((x.shape[0], 1), dtype=x.dtype)
        y = selective_update(xp, cache["lrnn_state"], i * u, delta, self._a(x.dtype), ones, ones,
                             method="rglru")
        return self._rows(self.out_proj, gate * y)
