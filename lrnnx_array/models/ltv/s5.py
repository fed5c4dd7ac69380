"""S5 with input-independent dynamics but event time steps (Event-SSM), lrnnx models/ltv/s5.py."""

from __future__ import annotations

import numpy as np

from ...ops import s5_inner as _s5_inner
from ...ops import simplified_scan as _simplified_scan
from ..init import make_s5_params
from ._direct import s5_update
from .base import LTV_LRNN, check_int, check_real, unchecked

__all__ = ["S5"]

_INNER = unchecked(_s5_inner)
_SCAN = unchecked(_simplified_scan)
DISCRETIZATIONS = ("bilinear", "zoh", "dirac")


class S5(LTV_LRNN):
    r"""S5 layer run as a scan, with Event-SSM time steps (lrnnx ``models.ltv.S5``).

    Parameters
    ----------
    d_model : int
        Model width H.
    d_state : int
        Number of complex modes P kept.
    discretization : {"zoh", "bilinear", "dirac"}, default "zoh"
    conj_sym : bool, default False
        Build the HiPPO-N spectrum of size 2P, keep its first P eigenvalues (V restricted,
        V⁻¹ = Vᴴ restricted) and double the real part of the output.
    dt_min, dt_max : float, default 1e-3, 0.1
        Range of the initial step sizes (log-uniform): ``log_dt``.
    step_rescale : float, default 1.0
        dt = exp(log_dt) · step_rescale (not a parameter).
    use_fast_path : bool, default True
        Accepted for lrnnx compatibility (one path here).
    device, dtype, seed, xp : optional
        As for :class:`Mamba`; the complex parameters are stored as (real, imag) views in
        ``dtype``, as lrnnx's state_dict holds them.

    Notes
    -----
    With Λ = A[:, 0] + i A[:, 1], B̃, C̃ likewise and dt = exp(log_dt)·step_rescale:

    .. math:: s_t = \bar\Lambda_t s_{t-1} + \bar\gamma\, \tilde B x_t,\qquad
              y_t = (2\ \text{if conj\_sym else}\ 1)\,\mathrm{Re}(\tilde C s_t) + D \odot x_t,

    where Ā uses Δᴬ = τ_t·dt in event mode (``integration_timesteps`` τ, (B, L) or (B, L, 1))
    and dt otherwise, and γ̄ always uses dt. A prefill (forward with a cache) stores the final
    ``ssm_state`` (lrnnx leaves it zero). The cache's ``A``, ``B_tilde``, ``C_tilde`` and
    ``dt`` hold the continuous-time parameters as lrnnx's; ``step`` reads the module's own
    parameters, so a cache allocated before a ``load_state_dict`` stays valid.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.ltv import S5
    >>> m = S5(8, 4, seed=0)
    >>> x = np.ones((2, 5, 8), dtype=np.float32)
    >>> m(x).shape, m(x, integration_timesteps=np.ones((2, 5), np.float32)).shape
    ((2, 5, 8), (2, 5, 8))
    """

    uses_timesteps = True
    timesteps_ndims = (2, 3)
    _accepts_2d_step = True

    def __init__(self, d_model, d_state, discretization="zoh", conj_sym=False, dt_min=1e-3,
                 dt_max=0.1, step_rescale=1.0, use_fast_path=True, device=None, dtype=None, *,
                 seed=None, xp=None):
        super().__init__(d_model, seed=seed, dtype=dtype, xp=xp, device=device)
        H = self.d_model
        self.d_state = P = check_int("d_state", d_state)
        if discretization not in DISCRETIZATIONS:
            raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got "
                             f"{discretization!r}")
        self.discretization = discretization
        self.conj_sym = self._flag("conj_sym", conj_sym)
        dt_min = check_real("dt_min", dt_min, positive=True)
        dt_max = check_real("dt_max", dt_max, positive=True)
        if dt_min > dt_max:
            raise ValueError(f"dt_min must be <= dt_max, got {dt_min} > {dt_max}")
        self.step_rescale = check_real("step_rescale", step_rescale, positive=True)
        self.use_fast_path = self._flag("use_fast_path", use_fast_path)
        lam, B, C, dt, D = make_s5_params(H, P, conj_sym=self.conj_sym, seed=self._rng,
                                          dt_min=dt_min, dt_max=dt_max)
        f = self.dtype

        def view(z):
            return self.asarray(np.stack([z.real, z.imag], axis=-1).astype(f))

        self.register_parameter("A", view(lam))
        self.register_parameter("B", view(B))
        self.register_parameter("C", view(C))
        self.register_parameter("D", self.asarray(D.astype(f)))
        self.register_parameter("log_dt", self.asarray(np.log(dt).astype(f)))

    def _cache_shapes(self, batch):
        P, H = self.d_state, self.d_model
        return {"ssm_state": (batch, P), "A": (P,), "B_tilde": (P, H), "C_tilde": (H, P),
                "dt": (P,)}

    def _complex(self, v, dtype):
        """A (.., 2) real view as a complex array of the real ``dtype``'s precision."""
        xp = self.xp
        v = self._cast(v, dtype)
        cdt = xp.complex128 if dtype == xp.float64 else xp.complex64
        re, im = xp.astype(v[..., 0], cdt), xp.astype(v[..., 1], cdt)
        return re + 1j * im

    def _ssm(self, dtype):
        xp = self.xp
        dt = xp.exp(self._cast(self.log_dt, dtype)) * self.step_rescale
        return (self._complex(self.A, dtype), self._complex(self.B, dtype),
                self._complex(self.C, dtype), self._cast(self.D, dtype), dt)

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        """``ssm_state`` (B, P) complex zeros plus the continuous A, B̃, C̃ and dt (as lrnnx)."""
        cache = super().allocate_inference_cache(batch_size, max_seqlen, dtype)
        xp = self.xp
        real = xp.float64 if cache["dt"].dtype == xp.float64 else xp.float32
        A, B, C, _, dt = self._ssm(real)
        cdt = A.dtype
        cache.update(ssm_state=xp.astype(cache["ssm_state"], cdt), A=A, B_tilde=B, C_tilde=C,
                     dt=dt)
        return cache

    def _forward(self, x, ts, cache):
        xp = self.xp
        A, B, C, D, dt = self._ssm(x.dtype)
        u = self._bmT(x)  # (B, H, L)
        deltaA = None if ts is None else self._cast(ts, x.dtype)[:, None, :] * dt[None, :, None]
        if cache is None:
            y = _INNER(u, dt, A, B, C, D, deltaA, discretization=self.discretization,
                       conj_sym=self.conj_sym)
            return self._bmT(y)
        y, last = _SCAN(u, dt, A, B, C, deltaA, return_last_state=True,
                        discretization=self.discretization)
        cache["ssm_state"][...] = xp.astype(last, cache["ssm_state"].dtype)
        y = (2.0 if self.conj_sym else 1.0) * xp.real(y) + D[None, :, None] * u
        return self._bmT(y)

    def _step(self, x, cache, ts):
        A, B, C, D, dt = self._ssm(x.dtype)
        deltaA = None if ts is None else self._cast(ts, x.dtype)[:, None] * dt[None, :]
        y = s5_update(self.xp, cache["ssm_state"], x, dt, A, B, C, deltaA,
                      discretization=self.discretization, conj_sym=self.conj_sym)
        return y + D * x
