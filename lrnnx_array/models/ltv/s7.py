"""S7 (input-dependent stable SSM) as lrnnx's models/ltv/s7.py."""

from __future__ import annotations

import numpy as np

from ...layers import Linear, gelu, sigmoid
from ...ops import s7_scan as _s7_scan
from ..init import make_dplr_hippo
from ._direct import selective_update
from .base import LTV_LRNN, check_int, unchecked

__all__ = ["S7"]

_SCAN = unchecked(_s7_scan)


class S7(LTV_LRNN):
    r"""S7 layer: every SSM matrix is a projection of the input; stable decay 1 − 1/(a² + ½).

    Parameters
    ----------
    d_model : int
        Model width H.
    d_state : int
        State size N.
    J : int, default 1
        Number of HiPPO blocks of ``base_params``; ``d_state % J == 0``.
    use_fast_path : bool, default True
        Accepted for lrnnx compatibility (one path here).
    layer_idx, device, dtype, seed, xp : optional
        As for :class:`Mamba`.

    Notes
    -----
    x = W_in h; [a, B, C, D, bias] = W_x x (sizes N, H·N, H·N, H, N; B and C h-major),
    a += base_params;

    .. math:: s_t = \Big(1 - \frac{1}{a_t^2 + 1/2}\Big) s_t + B_t x_t + \mathrm{bias}_t,\quad
              y_t = C_t s_t + D_t \odot x_t,\quad
              \mathrm{out} = \sigma(W_g\,\mathrm{GELU}(y)) \odot y + h.

    ``base_params`` is initialised as lrnnx does: the real part of the HiPPO-N (LegS) DPLR
    eigenvalues of size N/J tiled J times. Those real parts are all −½ (lrnnx's complex-to-float
    cast drops the imaginary parts), so ``J`` changes no value and Ā = −1/3 at init where the
    input term of a is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.ltv import S7
    >>> m = S7(8, 4, seed=0)
    >>> m(np.ones((2, 5, 8), dtype=np.float32)).shape
    (2, 5, 8)
    """

    def __init__(self, d_model, d_state, J=1, use_fast_path=True, layer_idx=None, device=None,
                 dtype=None, *, seed=None, xp=None):
        super().__init__(d_model, seed=seed, dtype=dtype, xp=xp, device=device)
        H = self.d_model
        self.d_state = N = check_int("d_state", d_state)
        self.J = check_int("J", J)
        if N % self.J:
            raise ValueError(f"d_state must be divisible by J, got d_state={N}, J={J}")
        self.use_fast_path = self._flag("use_fast_path", use_fast_path)
        self.layer_idx = layer_idx
        rng, dt = self._rng, self.dtype
        kw = dict(dtype=dt.name, xp=self.xp, device=device)
        lam = make_dplr_hippo(N // self.J)[0]
        self.register_parameter("base_params", self.asarray(np.tile(lam.real, self.J).astype(dt)))
        self.in_proj = Linear(H, H, bias=False, seed=rng, **kw)
        self.x_proj = Linear(H, 2 * N + 2 * H * N + H, bias=False, seed=rng, **kw)
        self.x_proj.weight = self.asarray(
            rng.normal(0.0, 0.02, tuple(self.x_proj.weight.shape)).astype(dt))
        self.gate_proj = Linear(H, H, bias=False, seed=rng, **kw)

    def _cache_shapes(self, batch):
        return {"lrnn_state": (batch, self.d_state)}

    def _forward(self, h, ts, cache):
        xp = self.xp
        H, N = self.d_model, self.d_state
        Bsz, L, _ = h.shape
        x = self._cf(self.in_proj, self._bmT(h))  # (B, H, L)
        # x_proj in row blocks, each a GEMM straight into the layout s7_scan reads (L the
        # contiguous axis): a (B, N, L); B as (B, N, H, L) through the weight's rows reordered
        # n-major (they are h-major, lrnnx's reshape of B to (H, N)); C (B, H, N, L); D (B, H, L);
        # bias (B, N, L). One (B, L, 4256) output would need strided views (2-5x slower scan).
        xw = self.x_proj
        a = self._cf(xw, x, slice(0, N)) + self._cast(self.base_params, x.dtype)[:, None]
        WB = self._cast(xw.weight[N:N + H * N, :], x.dtype)
        WB = xp.reshape(xp.permute_dims(xp.reshape(WB, (H, N, H)), (1, 0, 2)), (N * H, H))
        Bm = xp.reshape(xp.matmul(WB, x), (Bsz, N, H, L))
        Cm = xp.reshape(self._cf(xw, x, slice(N + H * N, N + 2 * H * N)), (Bsz, H, N, L))
        D = self._cf(xw, x, slice(N + 2 * H * N, N + 2 * H * N + H))
        bias = self._cf(xw, x, slice(N + 2 * H * N + H, 2 * N + 2 * H * N + H))
        y = _SCAN(x, a, Bm, Cm, bias, return_last_state=cache is not None)
        if cache is not None:
            y, last = y
            cache["lrnn_state"][...] = self._cast(last, cache["lrnn_state"].dtype)
        y = y + D * x  # (B, H, L)
        g = sigmoid(self._cf(self.gate_proj, gelu(y, xp)), xp)
        return self._bmT(g * y) + h

    def _step(self, h, cache, ts):
        xp = self.xp
        H, N = self.d_model, self.d_state
        x = self._rows(self.in_proj, h)  # (B, H)
        p = self._rows(self.x_proj, x)
        a = p[:, :N] + self._cast(self.base_params, p.dtype)
        Bm = xp.reshape(p[:, N:N + H * N], (-1, H, N))
        Cm = xp.reshape(p[:, N + H * N:N + 2 * H * N], (-1, H, N))
        D = p[:, N + 2 * H * N:N + 2 * H * N + H]
        bias = p[:, N + 2 * H * N + H:]
        Bu = xp.sum(Bm * x[:, :, None], axis=1) + bias  # (B, N)
        ones = xp.ones((x.shape[0], 1), dtype=x.dtype)
        state = xp.astype(cache["lrnn_state"], x.dtype)[:, :, None]
        # The s7 update: s <- (1 - 1/(a^2 + 1/2)) s + Bu, one channel per state (dstate 1).
        s = selective_update(xp, state, Bu, a, xp.zeros((N, 1), dtype=x.dtype), ones, ones,
                             method="s7")
        cache["lrnn_state"][...] = self._cast(s, cache["lrnn_state"].dtype)
        y = xp.sum(Cm * s[:, None, :], axis=2) + D * x
        g = sigmoid(self._rows(self.gate_proj, gelu(y, xp)), xp)
        return g * y + h
