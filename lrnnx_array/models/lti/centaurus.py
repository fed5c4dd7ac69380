"""Centaurus (lrnnx ``models.lti.centaurus``): SSM blocks shaped like convolution layers.

Each of the N states carries M complex sub-states with poles δ_n A_nm (an Euler/exact split:
Ā = exp(δ_n A_nm), input B̄ = δ_n B). The sub-states of a state are mixed by real weights E_nm,
so the kernel of state n is real:

    K_{n,l} = Σ_m Re(exp(δ_n A_nm l)) E_nm,     y = Re(C (K * (B̄ x)))   (causal convolution).

The modes differ in how B and C connect channels to states: ``neck`` (dense B (N, H), C (H, N)),
``dws`` (one state per channel, N = H), ``full`` (one state per (input, output) pair, N = H^2,
state j = o H + i) and ``pointwise`` (no E: every sub-state is its own lane, N M lanes).
The common part (A, E, log_delta, kernel, forward, step) is ``_centaurus_base.CentaurusBase``.
"""

from __future__ import annotations

import math

import numpy as np

from ._centaurus_base import CentaurusBase, _kaiming_uniform_sqrt5

# The public home of the base class (repr, pickling, docs), wherever it is defined.
CentaurusBase.__module__ = __name__

__all__ = ["Centaurus", "CentaurusBase", "CentaurusNeck", "CentaurusPWNeck", "CentaurusDWS",
           "CentaurusFull"]


class CentaurusNeck(CentaurusBase):
    """Bottleneck mode: dense B (N, H) and C (H, N) (torch's kaiming-uniform, a = sqrt 5).

    Parameters: ``A`` (N, M) complex, ``E`` (N, M), ``log_delta`` (N,), ``B`` (N, H), ``C``
    (H, N). Constructor arguments as :class:`CentaurusBase`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import CentaurusNeck
    >>> model = CentaurusNeck(d_model=8, d_state=16, sub_state_dim=4, seed=0)
    >>> model(np.zeros((2, 32, 8), dtype=np.float32)).shape
    (2, 32, 8)
    """

    mode = "neck"

    def _init_mode(self, rng, H, N, M):
        self._init_param("B", _kaiming_uniform_sqrt5(rng, (N, H)))
        self._init_param("C", _kaiming_uniform_sqrt5(rng, (H, N)))

    def _effective_B(self, rdt):
        return self._delta(rdt)[:, None] * self._cast(self._params["B"], rdt)

    def _effective_C(self, rdt):
        return self.xp.asarray(self._cast(self._params["C"], rdt), copy=True)


class CentaurusDWS(CentaurusBase):
    """Depthwise-separable mode: one state per channel (requires d_state == d_model).

    Parameters: ``A``, ``E``, ``log_delta`` as :class:`CentaurusNeck`; ``B`` (H,) and ``C`` (H,),
    both initialised to ones. The forward is a per-channel convolution (no H x H matmuls).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import CentaurusDWS
    >>> model = CentaurusDWS(d_model=8, d_state=8, sub_state_dim=4, seed=0)
    >>> model(np.zeros((2, 32, 8), dtype=np.float32)).shape
    (2, 32, 8)
    """

    mode = "dws"

    def _check_sizes(self, H, N):
        if N != H:
            raise ValueError(f"CentaurusDWS needs d_state == d_model (one state per channel), "
                             f"got d_state={N}, d_model={H}")

    def _init_mode(self, rng, H, N, M):
        self._init_param("B", np.ones(H))
        self._init_param("C", np.ones(H))

    def _eye(self, rdt):
        kw = {} if self.device is None else {"device": self.device}
        return self.xp.eye(self.d_model, dtype=rdt, **kw)

    def _effective_B(self, rdt):
        Bv = self._delta(rdt) * self._cast(self._params["B"], rdt)
        return self._eye(rdt) * Bv[None, :]  # diag(δ ⊙ B)

    def _effective_C(self, rdt):
        return self._eye(rdt) * self._cast(self._params["C"], rdt)[None, :]

    def forward(self, x, integration_timesteps=None, lengths=None):
        _, L = self._check_sequence(x, self.d_model)
        self.seq_len = L
        xp = self.xp
        rdt, _ = self._dtypes(x)
        def gained_kernel():
            K, _ = self.compute_kernel(L, rdt)  # (H, L)
            gain = self._delta(rdt) * self._cast(self._params["B"], rdt) * \
                self._cast(self._params["C"], rdt)
            return gain[:, None] * K

        u = xp.permute_dims(self._cast(x, rdt), (0, 2, 1))  # (B, H, L)
        y = self._channel_conv(u, self._kernel_parts(L, rdt, gained_kernel), rdt)
        return xp.permute_dims(y, (0, 2, 1))

    forward.__doc__ = CentaurusBase.forward.__doc__


class CentaurusFull(CentaurusBase):
    """Fully connected mode: one state per (input i, output o) pair, j = o H + i (N == H^2).

    Parameters: ``A``, ``E``, ``log_delta`` as :class:`CentaurusNeck`; ``B`` (N,) ~ N(0, 2/H)
    and ``C`` (N,) ~ N(0, 2/N), scattered to B̄[j, j mod H] and C_eff[j // H, j].

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import CentaurusFull
    >>> model = CentaurusFull(d_model=3, d_state=9, sub_state_dim=2, seed=0)
    >>> model(np.zeros((2, 16, 3), dtype=np.float32)).shape
    (2, 16, 3)
    """

    mode = "full"

    def _check_sizes(self, H, N):
        if N != H * H:
            raise ValueError(f"CentaurusFull needs d_state == d_model**2 (a state per "
                             f"(input, output) pair), got d_state={N}, d_model={H}")

    def _init_mode(self, rng, H, N, M):
        self._init_param("B", rng.standard_normal(N) * math.sqrt(2.0 / H))
        self._init_param("C", rng.standard_normal(N) * math.sqrt(2.0 / N))
        j = np.arange(N)
        into = np.zeros((N, H))
        into[j, j % H] = 1.0
        out = np.zeros((H, N))
        out[j // H, j] = 1.0
        # 0/1 scatter masks: not parameters, never in state_dict (lrnnx's index buffers)
        self.register_buffer("_full_in_mask", into.astype(self.param_dtype), persistent=False)
        self.register_buffer("_full_out_mask", out.astype(self.param_dtype), persistent=False)

    def _effective_B(self, rdt):
        Bv = self._delta(rdt) * self._cast(self._params["B"], rdt)
        return self._cast(self._buffers["_full_in_mask"], rdt) * Bv[:, None]

    def _effective_C(self, rdt):
        return self._cast(self._buffers["_full_out_mask"], rdt) * \
            self._cast(self._params["C"], rdt)[None, :]


class CentaurusPWNeck(CentaurusBase):
    """Pointwise bottleneck ("pointwise", "pw", "s5"): N M independent lanes, no E mixing.

    Parameters: ``A`` (N, M) complex, ``log_delta`` (N,), ``B`` (N M, H) = 1/sqrt(H), ``C``
    (H, N M) ~ N(0, 2/(N M)); no ``E``. Lane (n, m) has pole δ_n A_nm and input row δ_n B.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import CentaurusPWNeck
    >>> model = CentaurusPWNeck(d_model=8, d_state=4, sub_state_dim=2, seed=0)
    >>> model(np.zeros((2, 32, 8), dtype=np.float32)).shape
    (2, 32, 8)
    """

    mode = "pointwise"
    _HAS_E = False
    _CACHE_KEYS = ("lrnn_state", "A_bar_flat", "B_bar_flat", "C_flat")

    def _init_mode(self, rng, H, N, M):
        S = N * M
        self._init_param("B", np.ones((S, H)) / math.sqrt(H))
        self._init_param("C", rng.standard_normal((H, S)) * math.sqrt(2.0 / S))

    def _lane_delta(self, rdt):
        d = self._delta(rdt)
        M = self.sub_state_dim
        return self.xp.reshape(self.xp.broadcast_to(d[:, None], (self.d_state, M)), (-1,))

    def _effective_B(self, rdt):
        return self._lane_delta(rdt)[:, None] * self._cast(self._params["B"], rdt)

    def _effective_C(self, rdt):
        return self.xp.asarray(self._cast(self._params["C"], rdt), copy=True)

    def compute_kernel(self, L=None, _rdt=None):
        """Real kernel ``K`` (N M, L) = Re(exp(δ_n A_nm l)), lanes flattened n-major."""
        xp = self.xp
        if L is None:
            if self.seq_len is None:
                raise ValueError("compute_kernel needs L (no forward has set seq_len yet)")
            L = self.seq_len
        L = self._check_dim("L", L, 0)
        rdt = self._param_real_dtype() if _rdt is None else _rdt
        Kc = self._powers(xp.reshape(self._log_poles(rdt), (-1,)), L, rdt, real=True)
        return Kc, self._zeros((0,), rdt)

    def allocate_inference_cache(self, batch_size, max_seqlen=1, dtype=None):
        """``lrnn_state`` (batch, N M) complex, ``A_bar_flat`` (N M,), ``B_bar_flat`` (N M, H),
        ``C_flat`` (H, N M) (lrnnx's keys); ``dtype`` None = the parameters' precision."""
        Bn = self._check_cache_args(batch_size, max_seqlen)
        rdt, cdt = self._cache_dtypes(dtype)
        xp = self.xp
        S = self.d_state * self.sub_state_dim
        return {"lrnn_state": self._zeros((Bn, S), cdt),
                "A_bar_flat": xp.exp(xp.reshape(self._log_poles(rdt), (-1,))),
                "B_bar_flat": self._effective_B(rdt), "C_flat": self._effective_C(rdt)}

    def step(self, x, inference_cache):
        """One token: ``s <- A_bar ⊙ s + B_bar x``, ``y = C Re(s)``; returns (y, cache)."""
        cache = inference_cache
        self._check_token(x, self.d_model, cache, self._CACHE_KEYS)
        xp = self.xp
        s = cache["lrnn_state"]
        rdt, cdt = self._dtypes(x, s)
        u = self._cast(x, rdt) @ xp.matrix_transpose(self._cast(cache["B_bar_flat"], rdt))
        s = self._cast(cache["A_bar_flat"], cdt) * self._cast(s, cdt) + self._cast(u, cdt)
        cache["lrnn_state"] = s
        return xp.real(s) @ xp.matrix_transpose(self._cast(cache["C_flat"], rdt)), cache


_MODES = {"neck": CentaurusNeck, "pointwise": CentaurusPWNeck, "pw": CentaurusPWNeck,
          "s5": CentaurusPWNeck, "dws": CentaurusDWS, "full": CentaurusFull}


class Centaurus:
    """Factory: ``Centaurus(d_model, d_state, sub_state_dim, discretization="zoh", mode="neck")``
    returns a :class:`CentaurusNeck`, :class:`CentaurusPWNeck` ("pointwise", "pw", "s5"),
    :class:`CentaurusDWS` or :class:`CentaurusFull` (lrnnx's backwards-compatible wrapper).

    Parameters
    ----------
    d_model, d_state, sub_state_dim, discretization
        See :class:`CentaurusBase`.
    mode : {"neck", "pointwise", "pw", "s5", "dws", "full"}, optional
    **kwargs
        ``seed``, ``dtype``, ``xp``, ``device``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import Centaurus
    >>> model = Centaurus(d_model=8, d_state=8, sub_state_dim=2, mode="dws", seed=0)
    >>> type(model).__name__, model(np.zeros((1, 4, 8))).shape
    ('CentaurusDWS', (1, 4, 8))
    """

    MODES = tuple(_MODES)

    def __new__(cls, d_model, d_state, sub_state_dim, discretization="zoh", mode="neck",
                **kwargs):
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(f"mode must be one of {tuple(_MODES)}, got {mode!r}")
        return _MODES[mode](d_model, d_state, sub_state_dim, discretization, **kwargs)

    @classmethod
    def from_state_dict(cls, state_dict, *, strict=True, **kwargs):
        """Build the mode's class with ``kwargs`` (including ``mode``), then load."""
        model = cls(**kwargs)
        model.load_state_dict(state_dict, strict=strict)
        return model
