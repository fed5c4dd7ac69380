"""The common part of the Centaurus modes (see ``centaurus`` for the model and its modes):
A, E, log_delta, the real per-state kernel, forward and step."""

from __future__ import annotations

import math

import numpy as np

from ... import _checks
from .base import LTI_LRNN

__all__ = ["CentaurusBase"]


def _kaiming_uniform_sqrt5(rng, shape):
    """torch's ``kaiming_uniform_(w, a=sqrt(5))`` for a (out, in) matrix: U(±1/sqrt(in))."""
    bound = 1.0 / math.sqrt(shape[1])
    return rng.uniform(-bound, bound, size=shape)


class CentaurusBase(LTI_LRNN):
    """Common part of the Centaurus modes (A, E, log_delta, kernel, forward, step).

    Parameters
    ----------
    d_model : int
        Channels H.
    d_state : int
        States N.
    sub_state_dim : int
        Sub-states M per state.
    discretization : {"zoh", "bilinear", "dirac", "async"}, optional
        Accepted and ignored, as in lrnnx: Centaurus always uses Ā = exp(δ A), B̄ = δ B.
    seed, dtype, xp, device
        See :class:`LTI_LRNN`. ``A`` is complex (complex64 for float32 models).
    """

    DISCRETIZATIONS = ("zoh", "bilinear", "dirac", "async")
    mode = ""
    _HAS_E = True
    _CACHE_KEYS = ("lrnn_state", "A_bar", "B_bar", "E", "C")

    def __init__(self, d_model, d_state, sub_state_dim, discretization="zoh", *, seed=None,
                 dtype=None, xp=None, device=None):
        super().__init__(discretization, seed=seed, dtype=dtype, xp=xp, device=device)
        H = self._check_dim("d_model", d_model)
        N = self._check_dim("d_state", d_state)
        M = self._check_dim("sub_state_dim", sub_state_dim)
        self._check_sizes(H, N)
        self.d_model, self.d_state, self.sub_state_dim = H, N, M
        self.seq_len = None
        rng = self._rng
        a_row = -0.5 + 1j * math.pi * np.arange(M) / M
        self._init_param("A", np.broadcast_to(a_row, (N, M)).copy(), complex_=True)
        if self._HAS_E:
            self._init_param("E", rng.standard_normal((N, M)) * math.sqrt(2.0))
        self._init_param("log_delta", np.log(np.logspace(-3, -1, N)))
        self._init_mode(rng, H, N, M)

    # -- per mode ------------------------------------------------------------------------------

    def _check_sizes(self, H, N) -> None:
        """Mode-specific size constraints (raise ValueError)."""

    def _init_mode(self, rng, H, N, M) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _effective_B(self, rdt):
        """Discretised input matrix δ ⊙ B, real (N, H) (or (N M, H) for pointwise)."""
        raise NotImplementedError  # pragma: no cover

    def _effective_C(self, rdt):
        """Output matrix, real (H, N) (or (H, N M))."""
        raise NotImplementedError  # pragma: no cover

    # -- shared maths --------------------------------------------------------------------------

    def _delta(self, rdt):
        return self.xp.exp(self._cast(self._params["log_delta"], rdt))

    def _log_poles(self, rdt):
        """δ_n A_nm, complex (N, M): the log of the discrete poles."""
        cdt = _checks.complex_dtype_of(self.xp, rdt)
        return self._cast(self._delta(rdt), cdt)[:, None] * self._cast(self._params["A"], cdt)

    def discretize(self):
        """Not available, as in lrnnx: Centaurus discretizes inside its kernel and cache."""
        raise NotImplementedError(
            "Centaurus discretizes implicitly (A_bar = exp(delta A), B_bar = delta B) in "
            "compute_kernel and allocate_inference_cache; it has no discretize()")

    def compute_kernel(self, L=None, _rdt=None):
        """Real kernel ``K`` (N, L) = Σ_m Re(exp(δ_n A_nm l)) E_nm, and an empty placeholder.

        ``L`` defaults to the length of the last forward (lrnnx reads ``seq_len``).
        """
        xp = self.xp
        if L is None:
            if self.seq_len is None:
                raise ValueError("compute_kernel needs L (no forward has set seq_len yet)")
            L = self.seq_len
        L = self._check_dim("L", L, 0)
        rdt = self._param_real_dtype() if _rdt is None else _rdt
        Kc = self._powers(self._log_poles(rdt), L, rdt, real=True)  # (N, M, L)
        E = self._cast(self._params["E"], rdt)
        K = xp.sum(Kc * E[:, :, None], axis=1)
        return K, self._zeros((0,), rdt)

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
            Real; no skip term.
        """
        _, L = self._check_sequence(x, self.d_model)
        self.seq_len = L  # lrnnx keeps the last length on the module
        rdt, _ = self._dtypes(x)
        xc = self._cast(x, rdt)
        K, B_eff, C_eff = self._kernel_parts(L, rdt, lambda: (
            self.compute_kernel(L, rdt)[0], self._effective_B(rdt), self._effective_C(rdt)))
        return self._ssm_conv(xc, K, B_eff, C_eff, rdt)

    def allocate_inference_cache(self, batch_size, max_seqlen=1, dtype=None):
        """Zero state and the step matrices.

        Returns
        -------
        dict
            ``lrnn_state`` (batch, N, M) complex, ``A_bar`` (N, M) complex = exp(δ A),
            ``B_bar`` (N, H), ``E`` (N, M) and ``C`` (H, N) real (lrnnx's keys). ``max_seqlen``
            is unused; ``dtype`` None = the parameters' precision.
        """
        Bn = self._check_cache_args(batch_size, max_seqlen)
        rdt, cdt = self._cache_dtypes(dtype)
        xp = self.xp
        return {"lrnn_state": self._zeros((Bn, self.d_state, self.sub_state_dim), cdt),
                "A_bar": xp.exp(self._log_poles(rdt)), "B_bar": self._effective_B(rdt),
                "E": xp.asarray(self._cast(self._params["E"], rdt), copy=True),
                "C": self._effective_C(rdt)}

    def step(self, x, inference_cache):
        """One token: ``s <- A_bar ⊙ s + (B_bar x)[..., None]``, ``y = C (Σ_m Re(s) E)``.

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
        self._check_token(x, self.d_model, cache, self._CACHE_KEYS)
        xp = self.xp
        s = cache["lrnn_state"]
        rdt, cdt = self._dtypes(x, s)
        u = self._cast(x, rdt) @ xp.matrix_transpose(self._cast(cache["B_bar"], rdt))  # (B, N)
        s = self._cast(cache["A_bar"], cdt) * self._cast(s, cdt) + self._cast(u, cdt)[:, :, None]
        mixed = xp.sum(xp.real(s) * self._cast(cache["E"], rdt), axis=-1)
        cache["lrnn_state"] = s
        return mixed @ xp.matrix_transpose(self._cast(cache["C"], rdt)), cache
