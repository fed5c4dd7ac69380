"""LRU, the Linear Recurrent Unit (Orvieto et al. 2023; lrnnx ``models.lti.LRU``).

The transition is already discrete: λ_n = exp(-e^{ν_n} + i e^{θ_n}), |λ_n| < 1, and

    s_t = λ ⊙ s_{t-1} + (e^{γ} ⊙ (B_re + i B_im)) x_t,    y_t = Re((C_re + i C_im) s_t) + D ⊙ x_t.
"""

from __future__ import annotations

import math

import numpy as np

from ... import _checks
from .base import LTI_LRNN

__all__ = ["LRU"]


def lru_ring_init(rng, N, r_min, r_max, max_phase):
    """(nu_log, theta_log, gamma_log) for λ uniform on the ring r_min <= |λ| <= r_max.

    |λ|^2 is drawn uniformly in [r_min^2, r_max^2] and the phase uniformly in [0, max_phase)
    (the LRU paper's init); gamma_log = log sqrt(1 - |λ|^2) normalises the input.
    """
    # open interval: u = 0 would make log(0) at r_min = 0, u = 1 a zero gamma at r_max = 1
    u1 = np.clip(rng.random(N), 1e-12, 1 - 1e-12)
    u2 = np.clip(rng.random(N), 1e-12, 1.0)
    mag2 = u1 * (r_max**2 - r_min**2) + r_min**2
    nu_log = np.log(-0.5 * np.log(mag2))
    theta_log = np.log(max_phase * u2)
    gamma_log = 0.5 * np.log1p(-mag2)  # log sqrt(1 - |λ|^2)
    return nu_log, theta_log, gamma_log


class LRU(LTI_LRNN):
    """Linear Recurrent Unit layer (lrnnx ``lti.LRU``).

    Parameters
    ----------
    d_model : int
        Model width H.
    d_state : int
        Number of complex modes N.
    r_min, r_max : float, optional
        Ring of the initial eigenvalues, 0 <= r_min <= r_max <= 1 (defaults 0 and 1). r_max = 1
        and r_min = r_max are allowed, but need |λ| < 1 to stay finite: a mode with
        |λ| = 1 would have an infinite ``nu_log`` or ``gamma_log`` and is rejected.
    max_phase : float, optional
        Initial phases are uniform in [0, max_phase), max_phase > 0 (default 2 pi).
    seed, dtype, xp, device
        See :class:`LTI_LRNN`.

    Notes
    -----
    Parameters (lrnnx's keys, in order): ``nu_log``, ``theta_log`` (N,); ``B_re``, ``B_im`` (N, H)
    ~ N(0, 1/(2H)); ``C_re``, ``C_im`` (H, N) ~ N(0, 1/N); ``D`` (H,) ~ N(0, 1); ``gamma_log``
    (N,), a free parameter initialised to log sqrt(1 - |λ|^2). The real part is taken once (no
    conjugate-symmetry factor 2). The kernel λ^l is evaluated as exp(l log λ) from the
    parameters directly, with the phase reduced modulo 2 pi in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import LRU
    >>> model = LRU(d_model=4, d_state=8, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 16, 4)).astype(np.float32)
    >>> model(x).shape
    (2, 16, 4)
    """

    DISCRETIZATIONS = ("no_discretization",)

    def __init__(self, d_model, d_state, r_min=0, r_max=1, max_phase=2 * math.pi, *, seed=None,
                 dtype=None, xp=None, device=None):
        super().__init__("no_discretization", seed=seed, dtype=dtype, xp=xp, device=device)
        H = self._check_dim("d_model", d_model)
        N = self._check_dim("d_state", d_state)
        r_min = self._check_real("r_min", r_min, low=0.0, high=1.0)
        r_max = self._check_real("r_max", r_max, low=0.0, high=1.0)
        if r_min > r_max:
            raise ValueError(f"r_min must be <= r_max, got r_min={r_min}, r_max={r_max}")
        if r_max == 0.0:
            raise ValueError("r_max must be > 0 (every eigenvalue would be 0: nu_log = inf)")
        if r_min == 1.0:
            raise ValueError("r_min must be < 1 (|lambda| = 1 makes gamma_log = -inf)")
        max_phase = self._check_real("max_phase", max_phase, low=0.0, low_open=True)
        self.d_model, self.d_state = H, N
        self.r_min, self.r_max, self.max_phase = r_min, r_max, max_phase
        rng = self._rng
        nu_log, theta_log, gamma_log = lru_ring_init(rng, N, r_min, r_max, max_phase)
        self._init_param("nu_log", nu_log)
        self._init_param("theta_log", theta_log)
        self._init_param("B_re", rng.standard_normal((N, H)) / math.sqrt(2 * H))
        self._init_param("B_im", rng.standard_normal((N, H)) / math.sqrt(2 * H))
        self._init_param("C_re", rng.standard_normal((H, N)) / math.sqrt(N))
        self._init_param("C_im", rng.standard_normal((H, N)) / math.sqrt(N))
        self._init_param("D", rng.standard_normal(H))
        self._init_param("gamma_log", gamma_log)

    def _log_lambda(self, rdt):
        """log λ = -e^ν + i e^θ (complex of ``rdt``)."""
        xp, p = self.xp, self._params
        cdt = _checks.complex_dtype_of(xp, rdt)
        re = -xp.exp(self._cast(p["nu_log"], rdt))
        im = xp.exp(self._cast(p["theta_log"], rdt))
        return self._cast(re, cdt) + self._cast(im, cdt) * 1j

    def discretize(self, _rdt=None):
        """``(Lambda (N,), B_complex (N, H), C_complex (H, N))``: LRU is already discrete."""
        xp, p = self.xp, self._params
        rdt = self._param_real_dtype() if _rdt is None else _rdt
        cdt = _checks.complex_dtype_of(xp, rdt)

        def cplx(re, im):
            return self._cast(self._cast(re, rdt), cdt) + self._cast(self._cast(im, rdt), cdt) * 1j

        return (xp.exp(self._log_lambda(rdt)), cplx(p["B_re"], p["B_im"]),
                cplx(p["C_re"], p["C_im"]))

    def compute_kernel(self, L, Lambda=None, B_complex=None):
        """``(K (N, L) = Lambda**l, B_norm (N, H) = B * exp(gamma_log))``.

        ``Lambda`` and ``B_complex`` default to :meth:`discretize`'s; the powers come from the
        parameters' log λ when ``Lambda`` is not given (exact phase), else from log(Lambda).
        """
        L = self._check_dim("L", L, 0)
        xp = self.xp
        if Lambda is None or B_complex is None:
            lam, Bc, _ = self.discretize()
            Lambda = lam if Lambda is None else Lambda
            log_lam = self._log_lambda(_checks.real_dtype_of(xp, Lambda.dtype))
            B_complex = Bc if B_complex is None else B_complex
        else:
            log_lam = xp.log(self._cast(Lambda, xp.complex128))
        cdt = B_complex.dtype
        K = self._powers(log_lam, L, Lambda.dtype)
        g = xp.exp(self._cast(self._params["gamma_log"], _checks.real_dtype_of(xp, cdt)))
        return K, B_complex * self._cast(g, cdt)[:, None]

    def forward(self, x, integration_timesteps=None, lengths=None):
        """Output for a whole sequence.

        Parameters
        ----------
        x : array, shape (batch, L, d_model)
            Real input.
        integration_timesteps, lengths : optional
            Accepted and ignored, as in lrnnx.

        Returns
        -------
        y : array, shape (batch, L, d_model)
        """
        _, L = self._check_sequence(x, self.d_model)
        rdt, cdt = self._dtypes(x)
        xc = self._cast(x, rdt)
        def parts():
            _, Bc, C = self.discretize(rdt)
            K = self._powers(self._log_lambda(rdt), L, cdt)
            g = self._cast(self.xp.exp(self._cast(self._params["gamma_log"], rdt)), cdt)
            return K, Bc * g[:, None], C

        K, B_norm, C = self._kernel_parts(L, rdt, parts)
        y = self._ssm_conv(xc, K, B_norm, C, rdt)
        return y + xc * self._cast(self._params["D"], rdt)

    def allocate_inference_cache(self, batch_size, max_seqlen=1, dtype=None):
        """Zero state and step matrices: ``lrnn_state`` (batch, N), ``Lambda`` (N,),
        ``B_norm`` (N, H), ``C_complex`` (H, N), complex (``dtype`` None = the parameters').

        ``max_seqlen`` is unused (interface of the LTV models).
        """
        Bn = self._check_cache_args(batch_size, max_seqlen)
        rdt, cdt = self._cache_dtypes(dtype)
        lam, Bc, C = self.discretize(rdt)
        g = self._cast(self.xp.exp(self._cast(self._params["gamma_log"], rdt)), cdt)
        return {"lrnn_state": self._zeros((Bn, self.d_state), cdt), "Lambda": lam,
                "B_norm": Bc * g[:, None], "C_complex": C}

    def step(self, x, inference_cache):
        """One token: ``s <- Lambda s + B_norm x``, ``y = Re(C s) + D x``; returns (y, cache)."""
        cache = inference_cache
        self._check_token(x, self.d_model, cache, ("lrnn_state", "Lambda", "B_norm", "C_complex"))
        xp = self.xp
        s = cache["lrnn_state"]
        rdt, cdt = self._dtypes(x, s)
        xr = self._cast(x, rdt)
        s = self._cast(cache["Lambda"], cdt) * self._cast(s, cdt) + \
            self._cast(xr, cdt) @ xp.matrix_transpose(self._cast(cache["B_norm"], cdt))
        y = xp.real(s @ xp.matrix_transpose(self._cast(cache["C_complex"], cdt)))
        cache["lrnn_state"] = s
        return y + xr * self._cast(self._params["D"], rdt), cache
