"""S5 as an LTI model (lrnnx ``models.lti.S5``): a diagonal complex SSM run as an FFT convolution.

Continuous system (one complex mode per state n): A_n = -softplus(a_n) + i w_n, B real (N, H),
C complex (H, N), time step dt_n = exp(log_dt_n), and a full (H, H) skip D applied on the right.
After discretization (Ā, γ̄) the output is

    y_t = Re( C s_t ) + x_t D,     s_t = Ā s_{t-1} + (γ̄ ⊙ B) x_t,   s_{-1} = 0.
"""

from __future__ import annotations

import math

import numpy as np

from ... import _checks
from ...discretization import discretize as _discretize
from .base import LTI_LRNN, with_unchecked

__all__ = ["S5"]

_DISCRETIZE = with_unchecked(_discretize)


def _softplus(xp, x):
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)."""
    return xp.clip(x, min=0.0) + xp.log1p(xp.exp(-xp.abs(x)))


class S5(LTI_LRNN):
    """S5 state-space layer, linear time-invariant form (FFT convolution; lrnnx ``lti.S5``).

    Parameters
    ----------
    d_model : int
        Model width H (input and output channels).
    d_state : int
        Number of complex modes N (P in the S5 paper).
    discretization : {"zoh", "bilinear", "dirac", "no_discretization"}
        How A and B are discretized (required, as in lrnnx). bilinear is the correct Tustin form
        (lrnnx's ``core`` bilinear is inverted and unstable, spec §9.1). no_discretization uses
        A itself as the transition, whose powers grow without bound (|A| > 1 for n >= 1).
    conj_sym : bool, optional
        Must be False: conjugate symmetry is not implemented (lrnnx raises the same
        ``NotImplementedError``).
    seed, dtype, xp, device
        See :class:`LTI_LRNN`.

    Notes
    -----
    Parameters (lrnnx's ``state_dict`` keys): ``A`` (N, 2) with Re A = -softplus(A[:, 0]) and
    Im A = A[:, 1], initialised to -1/2 + i pi n (the S4D-Lin spectrum); ``B`` (N, H) = 1/sqrt(H);
    ``log_dt`` (N,) = linspace(log 1e-3, log 1e-1, N); ``C`` (H, N, 2), a (real, imag) view, with
    entries ~ N(0, 2/N); ``D`` (H, H) ~ N(0, 2/H).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import S5
    >>> model = S5(d_model=4, d_state=8, discretization="zoh", seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 16, 4)).astype(np.float32)
    >>> model(x).shape
    (2, 16, 4)
    >>> cache = model.allocate_inference_cache(batch_size=2)
    >>> y0, cache = model.step(x[:, 0], cache)
    >>> bool(np.allclose(y0, model(x)[:, 0], atol=1e-5))
    True
    """

    def __init__(self, d_model, d_state, discretization, conj_sym=False, *, seed=None,
                 dtype=None, xp=None, device=None):
        super().__init__(discretization, seed=seed, dtype=dtype, xp=xp, device=device)
        H = self._check_dim("d_model", d_model)
        N = self._check_dim("d_state", d_state)
        if not isinstance(conj_sym, (bool, np.bool_)):
            raise TypeError(f"conj_sym must be a bool, got {type(conj_sym).__name__}")
        if conj_sym:
            raise NotImplementedError("S5 (LTI): conj_sym=True is not implemented (as in lrnnx)")
        self.d_model = self.hid_dim = H
        self.d_state = self.state_dim = N
        self.conj_sym = False
        rng = self._rng
        a = np.stack([np.full(N, math.log(math.expm1(0.5))), math.pi * np.arange(N)], axis=-1)
        self._init_param("A", a)
        self._init_param("B", np.ones((N, H)) / math.sqrt(H))
        self._init_param("log_dt", np.linspace(math.log(1e-3), math.log(1e-1), N))
        self._init_param("C", rng.standard_normal((H, N, 2)) * math.sqrt(2.0 / N))
        self._init_param("D", rng.standard_normal((H, H)) * math.sqrt(2.0 / H))

    # -- the LTI interface ---------------------------------------------------------------------

    def _params_at(self, rdt):
        return {k: self._cast(v, rdt) for k, v in self._params.items()}

    def discretize(self, _rdt=None):
        """Discrete system from the parameters.

        Returns
        -------
        A_bar : complex array, shape (N,)
        gamma_bar : complex array, shape (N,)
            Input normaliser: B_bar = gamma_bar[:, None] * B (ones for dirac and
            no_discretization).
        C_complex : complex array, shape (H, N)
        """
        xp = self.xp
        rdt = self._param_real_dtype() if _rdt is None else _rdt
        p = self._params_at(rdt)
        A, cdt = p["A"], _checks.complex_dtype_of(xp, rdt)
        A_c = self._cast(-_softplus(xp, A[:, 0]), cdt) + self._cast(A[:, 1], cdt) * 1j
        dt = xp.exp(p["log_dt"])
        A_bar, gamma_bar = _DISCRETIZE(A_c, dt, self.discretization)
        C = p["C"]
        C_complex = self._cast(C[..., 0], cdt) + self._cast(C[..., 1], cdt) * 1j
        return A_bar, gamma_bar, C_complex

    def compute_kernel(self, L, A_bar, gamma_bar):
        """Powers and input matrix: ``(K (N, L) = A_bar**l, B_bar (N, H) = gamma_bar * B)``."""
        L = self._check_dim("L", L, 0)
        xp = self.xp
        cdt = A_bar.dtype
        B = self._cast(self._params["B"], _checks.real_dtype_of(xp, cdt))
        B_bar = gamma_bar[:, None] * self._cast(B, cdt)
        K = self._powers(xp.log(self._cast(A_bar, xp.complex128)), L, cdt)
        return K, B_bar

    def forward(self, x, integration_timesteps=None, lengths=None):
        """Output of the layer for a whole sequence.

        Parameters
        ----------
        x : array, shape (batch, L, d_model)
            Real input.
        integration_timesteps, lengths : optional
            Accepted and ignored (an LTI model; lrnnx ignores them too).

        Returns
        -------
        y : array, shape (batch, L, d_model)
            Real, at the promoted precision of ``x`` and the parameters.
        """
        _, L = self._check_sequence(x, self.d_model)
        rdt, _ = self._dtypes(x)
        xc = self._cast(x, rdt)
        def parts():
            A_bar, gamma_bar, C = self.discretize(rdt)
            return (*self.compute_kernel(L, A_bar, gamma_bar), C)

        K, B_bar, C = self._kernel_parts(L, rdt, parts)
        D = self._cast(self._params["D"], rdt)
        return self._ssm_conv(xc, K, B_bar, C, rdt) + xc @ D

    def allocate_inference_cache(self, batch_size, max_seqlen=1, dtype=None):
        """Zero state and the step matrices.

        Parameters
        ----------
        batch_size : int
        max_seqlen : int, optional
            Unused (interface of the LTV models).
        dtype : optional
            Precision of the cache (float32/complex64 or float64/complex128); None = the
            parameters'.

        Returns
        -------
        dict
            ``lrnn_state`` (batch, N), ``A_bar`` (N,), ``B_bar`` (N, H), ``C_complex`` (H, N),
            all complex. Built from the current parameters, which it does not reference.
        """
        Bn = self._check_cache_args(batch_size, max_seqlen)
        rdt, cdt = self._cache_dtypes(dtype)
        A_bar, gamma_bar, C = self.discretize(rdt)
        B_bar = gamma_bar[:, None] * self._cast(self._cast(self._params["B"], rdt), cdt)
        return {"lrnn_state": self._zeros((Bn, self.d_state), cdt), "A_bar": A_bar,
                "B_bar": B_bar, "C_complex": C}

    def step(self, x, inference_cache):
        """One token: ``s <- A_bar s + B_bar x``, ``y = Re(C s) + x D``.

        Parameters
        ----------
        x : array, shape (batch, d_model)
        inference_cache : dict
            From :meth:`allocate_inference_cache`; its ``lrnn_state`` is replaced.

        Returns
        -------
        y : array, shape (batch, d_model)
        inference_cache : dict
        """
        cache = inference_cache
        self._check_token(x, self.d_model, cache, ("lrnn_state", "A_bar", "B_bar", "C_complex"))
        xp = self.xp
        s = cache["lrnn_state"]
        rdt, cdt = self._dtypes(x, s)
        xr = self._cast(x, rdt)
        B_bar = self._cast(cache["B_bar"], cdt)
        s = self._cast(cache["A_bar"], cdt) * self._cast(s, cdt) + \
            self._cast(xr, cdt) @ xp.matrix_transpose(B_bar)
        y = xp.real(s @ xp.matrix_transpose(self._cast(cache["C_complex"], cdt)))
        y = y + xr @ self._cast(self._params["D"], rdt)
        cache["lrnn_state"] = s
        return y, cache
