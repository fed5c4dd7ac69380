"""S4 / S4D convolution-kernel modules (lrnnx ``ops/s4_kernel_interface``), on the pure ops.

The kernels read their parameters from the owning S4/S4D model: ``param_config`` names the
arrays (``A_real``, ``A_imag``, ``B``, ``C``, ``P``, ``inv_dt``) and, under ``"store"``, the
owner's parameter dict, which the kernel aliases (so ``layer.kernel.*`` in ``state_dict()`` are
the same arrays as the top-level keys, as in lrnnx). Without a store the kernel owns them.

Unlike lrnnx, nothing here changes a parameter as a side effect of a forward or a step set-up:
lrnnx overwrites ``C`` by C̃ = C (I - Ā^L) on its first forward; here ``C`` holds whatever was
loaded (raw C while ``l_kernel == 0``, C̃ for ``l_kernel`` otherwise) and the ops turn it into
the kernel of the same length lrnnx would use. :meth:`S4Kernel.double_length` is the one
explicit method that rewrites C̃ (for 2 ``l_kernel``), as lrnnx's does.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import _checks, ops
from .._dispatch import namespace_of
from .._ops.dplr_kernel._api import SPEC as _DPLR_SPEC
from .._ops.dplr_kernel._lengths import kernel_lengths
from .._ops.dplr_kernel._step_api import _MODE_OF
from .._ops.s4d_kernel._api import SPEC as _S4D_SPEC
from ._base import KernelCache, Module
from ._s4_kernel_parts import _AliasParams, _as_complex, _check_rate, _tile0, param_transform

__all__ = ["S4KernelBase", "S4Kernel", "S4DKernel", "kernel_registry", "param_transform"]

STEP_MODES = ("dense", "linear", "diagonal")


def _unchecked(fn):
    """``fn`` with ``check_finite=False`` where the op offers it (parameters were checked at
    construction / load, so the per-call value checks and their device syncs are skipped)."""
    try:
        takes = "check_finite" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover
        takes = False
    if not takes:
        return fn
    return lambda *a, **k: fn(*a, check_finite=False, **k)


_dplr_kernel = _unchecked(ops.dplr_kernel)
_dplr_step_setup = _unchecked(ops.dplr_step_setup)
_dplr_step = _unchecked(ops.dplr_step)
_dplr_dense = _unchecked(ops.dplr_dense)
_dplr_forward_state = _unchecked(ops.dplr_forward_state)
_double_length = _unchecked(ops.double_length)
_c_tilde = _unchecked(ops.c_tilde)
_s4d_kernel = _unchecked(ops.s4d_kernel)
_s4d_step_setup = _unchecked(ops.s4d_step_setup)
_s4d_step = _unchecked(ops.s4d_step)
_s4d_forward_state = _unchecked(ops.s4d_forward_state)


class S4KernelBase(Module):
    """Base of the S4 kernels: reads the SSM parameters of its owner (lrnnx ``S4KernelBase``).

    Parameters
    ----------
    d_model : int
        H, the number of SSM channels.
    l_max : int or None
        Kernel length the C̃ of a fresh model is built for (None: the first input's).
    channels : int
        Output channels per SSM.
    param_config : dict
        ``A_real``, ``A_imag`` (None when ``is_real``), ``B``, ``C``, ``P`` (None for S4D),
        ``inv_dt``: arrays (or names in ``store``); ``N`` (= d_state // 2 modes), ``H``,
        ``channels``, ``rank``, ``repeat`` (H // n_ssm); flags ``dt_fast``, ``real_transform``,
        ``imag_transform``, ``dt_transform``, ``is_real``, ``deterministic``, ``verbose``;
        S4D: ``disc``. Optional ``store``: the owner's parameter dict to alias.
    xp, device : optional
    """

    _ALIASES = ("A_real", "A_imag", "B", "C", "P", "inv_dt")

    def __init__(self, d_model, l_max, channels, param_config, *, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        cfg = dict(param_config)
        store = cfg.pop("store", None)
        names = [n for n in self._ALIASES if cfg.get(n) is not None]
        if store is not None:
            object.__setattr__(self, "_params", _AliasParams(store, names))
        else:
            for n in names:
                self.register_parameter(n, cfg[n])
        self.N = int(cfg["N"])
        self.H = int(cfg["H"])
        self.channels = int(cfg.get("channels", channels))
        self.rank = int(cfg.get("rank", 1))
        self.repeat = int(cfg.get("repeat", 1))
        self.dt_fast = bool(cfg.get("dt_fast", False))
        self.real_transform = cfg.get("real_transform", "exp")
        self.imag_transform = cfg.get("imag_transform", "none")
        self.dt_transform = cfg.get("dt_transform", "exp")
        self.is_real = bool(cfg.get("is_real", False))
        self.deterministic = bool(cfg.get("deterministic", False))
        self.verbose = bool(cfg.get("verbose", False))
        self.d_model = d_model
        self.L = self.l_max = l_max
        object.__setattr__(self, "_step_setup", None)
        object.__setattr__(self, "_step_mode", None)
        # eval mode: the kernel (and S4's C̃) of the current parameters, per length
        object.__setattr__(self, "_kernel_cache", KernelCache())

    def _cache_inputs(self):
        """The arrays a kernel depends on (the aliased parameters, S4's l_kernel)."""
        return tuple(self._params.values()) + tuple(
            v for v in self._buffers.values() if v is not None)

    # -- parameters as the kernel sees them ----------------------------------------------------

    def _dtypes(self):
        xp = self.xp
        rdt = xp.float64 if self.C.dtype in (xp.float64, xp.complex128) else xp.float32
        return rdt, (xp.complex128 if rdt == xp.float64 else xp.complex64)

    def process_params(self, rate: float = 1.0):
        """(dt, A, B, C, P): dt real (H, 1)/(H, N), A/B (H, N), C (channels, H, N), P (rank, H, N)
        or None, complex; ``rate`` scales dt (lrnnx ``process_dplr_params``)."""
        xp = self.xp
        rdt, cdt = self._dtypes()
        re = -param_transform(xp, xp.astype(self.A_real, rdt), self.real_transform)
        A = xp.astype(re, cdt)
        if not self.is_real:
            A = A - xp.astype(param_transform(xp, xp.astype(self.A_imag, rdt),
                                              self.imag_transform), cdt) * 1j
        B = _as_complex(xp, self.B, cdt, not self.is_real)[0, ...]
        C = _as_complex(xp, self.C, cdt, not self.is_real)
        P = self._params.get("P")
        P = None if P is None else _as_complex(xp, P, cdt, True)
        inv_dt = xp.astype(self.inv_dt, rdt)
        if self.dt_fast:
            inv_dt = (xp.exp(inv_dt) - xp.exp(-inv_dt)) / 2  # sinh
        dt = param_transform(xp, inv_dt, self.dt_transform)
        if rate != 1.0:
            dt = dt * rate
        A, B = _tile0(xp, A, self.repeat, 0), _tile0(xp, B, self.repeat, 0)
        P = None if P is None else _tile0(xp, P, self.repeat, 1)
        return dt, A, B, C, P

    def default_state(self, *batch_shape):
        """Zero state (*batch_shape, H, N_state), complex (N_state depends on the step mode)."""
        _, cdt = self._dtypes()
        n = self._state_size()
        kw = {} if self.device is None else {"device": self.device}
        return self.xp.zeros(tuple(int(b) for b in batch_shape) + (self.H, n), dtype=cdt, **kw)

    def _ensure_setup(self):
        if self._step_setup is None:
            self.setup_step()
        return self._step_setup

    def _memo_step(self, spec, public, direct, u, state, arrays, tag):
        """One decode step through the dispatch's per-call memo (``_dispatch_memo``).

        The first call of a signature (u, state and the set-up's arrays: types, dtypes, shapes;
        ``tag``) runs ``public()`` (the public op: every check, and the result) and remembers
        the resolved implementation when the arrays are already what the op would pass it
        (``OpSpec.direct``); a repeat calls ``direct(fn, xp)`` with it, as the op would have.
        """
        key = spec.calls.key((u, state, *arrays), tag)
        plan = spec.calls.get(key)
        if not plan:  # None: this signature's first call; False: the public op every time
            out = public()
            if plan is None:  # the namespace of these arrays (the public op accepted them)
                xp = namespace_of({"u": u, "state": state})
                cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, *arrays))
                spec.calls.put(key, spec.direct("step", cdt, (state, *arrays), (u,)))
            return out
        fn, xp = plan
        return direct(fn, xp)


class S4Kernel(S4KernelBase):
    """DPLR kernel (lrnnx ``S4Kernel``): Cauchy + Woodbury at the bilinear nodes, C̃ semantics.

    ``l_kernel`` (a persistent int64 buffer, ``layer.kernel.l_kernel``) is 0 while ``C`` holds
    the plain C, and the length C̃ was built for otherwise (what lrnnx checkpoints hold after a
    forward).

    In eval mode the module keeps C̃ for the length the op would build it for, and the kernel
    of the last (L, rate), while the parameters are unchanged (``models._base.KernelCache``), and
    passes the kept C̃ to ``dplr_kernel`` with ``C_is_tilde=True``: the op alone rebuilds C̃
    from the plain C on every call (a dense matrix power per channel). ``C`` itself is never
    rewritten. Training mode recomputes everything (gradients reach the plain C).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import S4
    >>> kernel = S4(d_model=4, d_state=8, seed=0).layer.kernel
    >>> k, k_state = kernel(L=16)
    >>> k.shape, k_state
    ((1, 4, 16), None)
    """

    def __init__(self, d_model, l_max, channels, param_config, *, xp=None, device=None):
        super().__init__(d_model, l_max, channels, param_config, xp=xp, device=device)
        self.register_buffer("l_kernel", np.asarray(0, dtype=np.int64))

    def _lk(self) -> int:
        return int(self.l_kernel)

    def _dt_tie(self) -> bool:
        """One dt per channel (inv_dt (H, 1)) or, lrnnx's dt_tie=False, one per mode (H, N/2):
        the ops then discretise diag(dt)(Λ - P P^H) with input dt ⊙ B, as lrnnx's folding of a
        per-mode dt into A, B and P does."""
        return self.inv_dt.shape[-1] == 1

    def _kernel_lengths(self):
        """(C_is_tilde, l_kernel) to pass to the ops for the stored C."""
        lk = self._lk()
        if lk > 0:
            return True, lk
        return False, (self.l_max if self.l_max else None)

    def forward(self, state=None, rate=1.0, L=None):
        """Kernel ``(k (channels, H, L), k_state (batch, channels, H, L) or None)``.

        ``L`` None means ``round(l_kernel / rate)`` (``l_kernel`` or ``l_max`` must be set).
        """
        rate = _check_rate(rate)
        tilde, lk = self._kernel_lengths()
        if L is None:
            if not lk:
                raise ValueError("L is required: this kernel has no l_kernel or l_max yet")
            L = round(lk / rate)
        if state is None:
            # eval mode: reused while the parameters are unchanged (KernelCache)
            return self._kernel_cache.get(self, "k", (L, rate, tilde, lk), self._cache_inputs(),
                                          lambda: self._compute(L, rate, None, tilde, lk))
        return self._compute(L, rate, state, tilde, lk)

    def _compute(self, L, rate, state, tilde, lk):
        dt, A, B, C, P = self.process_params()
        if not self.training:
            # C̃ for the length the op would build it for, kept across calls (the op alone
            # recomputes it from the plain C each time: a dense matrix power per channel)
            C, lk = self._c_tilde_at(kernel_lengths(L, rate, lk, tilde)[0], tilde, lk,
                                     dt, A, C, P)
            tilde = True
        out = _dplr_kernel(A, B, C, P, dt, L, rate=rate, state=state, C_is_tilde=tilde,
                           l_kernel=lk, dt_tie=self._dt_tie())
        return out.k, out.k_state

    def _c_tilde_at(self, length, tilde, lk, dt, A, C, P):
        """(C̃ made for ``length``, ``length``) from the stored C (plain, or C̃ for ``lk``)."""
        if tilde and lk >= length:
            return C, lk

        def compute():
            if not tilde:
                return _c_tilde(A, C, P, dt, length, dt_tie=self._dt_tie())
            Ct, l0 = C, lk
            while l0 < length:  # lrnnx's doublings C̃ (I + Ā^l), as the op does them
                Ct, l0 = _double_length(Ct, A, P, dt, l0, dt_tie=self._dt_tie())
            return Ct

        return self._kernel_cache.get(self, "c_tilde", length, self._cache_inputs(),
                                      compute), length

    def double_length(self):
        """Rewrite C̃ for twice ``l_kernel`` (C̃ (I + Ā^l)) and double ``l_kernel``, as lrnnx.

        This is the one method that changes ``C``; it needs ``l_kernel > 0``.
        """
        lk = self._lk()
        if lk == 0:
            raise ValueError("double_length needs l_kernel > 0 (C is still the plain C)")
        dt, A, _, C, P = self.process_params()
        Ct, lk2 = _double_length(C, A, P, dt, lk, dt_tie=self._dt_tie())
        xp = self.xp
        if self.is_real:
            new = xp.astype(xp.real(Ct), self.C.dtype)
        else:
            new = xp.stack([xp.real(Ct), xp.imag(Ct)], axis=-1)
            new = xp.astype(new, self.C.dtype)
        self.C = new
        self.l_kernel = self.asarray(np.asarray(lk2, dtype=np.int64))
        object.__setattr__(self, "_step_setup", None)

    def _state_size(self) -> int:
        return self.N if self._step_mode == "linear" else 2 * self.N

    def setup_step(self, mode: str = "dense"):
        """Build the recurrence (``dense``: (H, 2N, 2N) matrices; ``linear``: Woodbury on the half
        state; ``diagonal``: eigenbasis). C is recovered from C̃ when ``l_kernel > 0``."""
        if mode not in STEP_MODES:
            raise ValueError(f"mode must be one of {STEP_MODES}, got {mode!r}")
        dt, A, B, C, P = self.process_params()
        lk = self._lk()
        setup = _dplr_step_setup(A, B, C, P, dt, mode=mode, C_is_tilde=lk > 0,
                                 l_kernel=lk if lk > 0 else None, dt_tie=self._dt_tie())
        object.__setattr__(self, "_step_setup", setup)
        object.__setattr__(self, "_step_mode", mode)
        return setup

    _setup_step = setup_step

    def step(self, u, state):
        """One step: ``u`` (B, H) real -> ``(y (B, channels, H) real, new_state)``."""
        setup = self._ensure_setup()
        arrays = tuple(setup)
        return self._memo_step(
            _DPLR_SPEC, lambda: _dplr_step(u, state, setup),
            lambda fn, xp: fn(xp, u, state, arrays, mode=_MODE_OF[type(setup)]),
            u, state, arrays, ("S4Kernel.step", type(setup)))

    def forward_state(self, u, state):
        """State after the sequence ``u`` (B, H, L) from ``state`` (B, H, N or 2N, or None)."""
        dt, A, B, _, P = self.process_params()
        dA, dB = _dplr_dense(A, P, B, dt, dt_tie=self._dt_tie())
        return _dplr_forward_state(u, state, dA, dB)


class S4DKernel(S4KernelBase):
    """Diagonal kernel (lrnnx ``S4DKernel``): ``2 Re sum_n C_n B̄_n Ā_n^l`` by log-Vandermonde.

    Examples
    --------
    >>> from lrnnx_array.models.lti import S4D
    >>> k, _ = S4D(d_model=4, d_state=8, seed=0).layer.kernel(16)
    >>> k.shape
    (1, 4, 16)
    """

    _ALIASES = ("A_real", "A_imag", "B", "C", "inv_dt")

    def __init__(self, d_model, l_max, channels, param_config, *, xp=None, device=None):
        disc = param_config.get("disc", "zoh")
        if disc not in ("zoh", "bilinear"):
            raise ValueError(f"disc must be 'zoh' or 'bilinear', got {disc!r}")
        super().__init__(d_model, l_max, channels, param_config, xp=xp, device=device)
        self.disc = disc

    def forward(self, L, state=None, rate=1.0):
        """Kernel ``(k (channels, H, L), k_state (batch, channels, H, L) or None)``."""
        rate = _check_rate(rate)
        if state is None:
            # eval mode: reused while the parameters are unchanged (KernelCache)
            return self._kernel_cache.get(self, "k", (L, rate), self._cache_inputs(),
                                          lambda: self._compute(L, rate, None))
        return self._compute(L, rate, state)

    def _compute(self, L, rate, state):
        dt, A, B, C, _ = self.process_params(rate)
        out = _s4d_kernel(A, B, C, dt, L, disc=self.disc, state=state)
        return out.k, out.k_state

    def _state_size(self) -> int:
        return self.N

    def setup_step(self, mode: str = "diagonal"):
        """dA = Ā, dB = B̄, dC = C (the S4D recurrence is diagonal; ``mode`` is accepted for
        interface parity and must be 'diagonal' or 'dense')."""
        if mode not in ("diagonal", "dense"):
            raise ValueError(f"S4D steps are diagonal; mode must be 'diagonal', got {mode!r}")
        dt, A, B, C, _ = self.process_params()
        setup = _s4d_step_setup(A, B, C, dt, disc=self.disc)
        object.__setattr__(self, "_step_setup", setup)
        object.__setattr__(self, "_step_mode", "diagonal")
        return setup

    _setup_step = setup_step

    def step(self, u, state):
        """One step: ``u`` (B, H) -> ``(y (B, channels, H) = 2 Re(C x'), new_state)``."""
        s = self._ensure_setup()
        return self._memo_step(
            _S4D_SPEC, lambda: _s4d_step(u, state, s.dA, s.dB, s.dC),
            lambda fn, xp: fn(xp, u, state, s.dA, s.dB, s.dC),
            u, state, (s.dA, s.dB, s.dC), ("S4DKernel.step",))

    def forward_state(self, u, state):
        """State after ``u`` (B, H, L) from ``state`` (B, H, N) or None."""
        dt, A, B, C, _ = self.process_params()
        s = _s4d_step_setup(A, B, C, dt, disc=self.disc)  # fresh: parameters may have changed
        return _s4d_forward_state(u, state, s.dA, s.dB)


kernel_registry = {"s4": S4Kernel, "s4d": S4DKernel}
