"""S4 DPLR convolution kernel and its step machinery as pure functions (spec §3.11).

Nothing is mutated: lrnnx's ``_setup_C`` overwrites its C parameter with C̃ = C (I - Ā^L);
here :func:`c_tilde` returns C̃, :func:`dplr_kernel` takes the plain C by default (or C̃ with
``C_is_tilde=True`` to port an lrnnx checkpoint), and :func:`c_from_tilde` recovers C.
"""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic as G
from ._lengths import kernel_lengths

__all__ = [
    "dplr_kernel",
    "DPLRKernelOut",
    "dplr_kernel_vjp",
    "DPLRKernelGrads",
    "dplr_dense",
    "c_tilde",
    "c_from_tilde",
    "double_length",
    "dplr_step_setup",
    "dplr_step",
    "dplr_default_state",
    "dplr_forward_state",
    "DenseStep",
    "LinearStep",
    "DiagonalStep",
    "STEP_MODES",
]

STEP_MODES = ("dense", "linear", "diagonal")


class DPLRKernelOut(NamedTuple):
    k: object
    k_state: object


class DPLRKernelGrads(NamedTuple):
    dA: object
    dB: object
    dC: object
    dP: object
    ddt: object
    dstate: object


class DenseStep(NamedTuple):
    """x' = dA x + dB u, y = Re(dC x'); state (batch, H, N)."""

    dA: object
    dB: object
    dC: object


class LinearStep(NamedTuple):
    """Woodbury bilinear step on the half state (batch, H, N/2); y = Re(dC x'), dC = 2 C."""

    D: object
    E: object
    P: object
    R: object
    B: object
    dC: object


class DiagonalStep(NamedTuple):
    """Eigenbasis of dA: x' = dA ⊙ x + dB u, y = Re(dC x'); state (batch, H, N)."""

    dA: object
    dB: object
    dC: object


class _Params(NamedTuple):
    xp: object
    A: object
    B: object
    C: object
    P: object
    dt: object
    state: object
    cdt: object


def _prepare(A, B, C, P, dt, state=None, *, need_B=True, C_name="C"):
    names = ("A", "B", C_name, "P", "dt", "state")
    xp = namespace(A, B, C, P, dt, state, names=names)
    _checks.check_array_dtype(xp, "A", A, allow_real=False)
    _checks.check_ndim("A", A, 2, "(H, N/2)")
    H, N2 = A.shape
    if B is not None:
        _checks.check_array_dtype(xp, "B", B)
        if B.ndim == 3:
            _checks.check_shape("B", B, (1, H, N2), "(1, H, N/2) or (H, N/2)")
            B = xp.reshape(B, (H, N2))
        _checks.check_shape("B", B, (H, N2), "(H, N/2)")
    elif need_B:
        raise ValueError("B is required")
    if C is not None:
        _checks.check_array_dtype(xp, C_name, C)
        _checks.check_ndim(C_name, C, 3, "(channels, H, N/2)")
        _checks.check_shape(C_name, C, (None, H, N2), "(channels, H, N/2)")
    if P is not None:
        _checks.check_array_dtype(xp, "P", P)
        _checks.check_ndim("P", P, 3, "(rank, H, N/2)")
        _checks.check_shape("P", P, (None, H, N2), "(rank, H, N/2)")
        if P.shape[0] == 0:
            P = None
    _checks.check_array_dtype(xp, "dt", dt, allow_complex=False)
    if tuple(dt.shape) not in ((H,), (H, 1)):
        raise ValueError(
            f"dt must have shape (H,) or (H, 1) with H={H} (one step per channel; "
            f"the DPLR matrix is not diagonal), got {tuple(dt.shape)}"
        )
    dt = xp.reshape(dt, (H, 1))
    for name, a in (("A", A), ("B", B), (C_name, C), ("P", P), ("dt", dt)):
        _checks.check_finite(xp, name, a)
    if not bool(xp.all(dt > 0)):
        raise ValueError("dt must be positive")
    if state is not None:
        _checks.check_array_dtype(xp, "state", state)
        _checks.check_ndim("state", state, 3, "(batch, H, N/2) or (batch, H, N)")
        if state.shape[1] != H or state.shape[2] not in (N2, 2 * N2):
            raise ValueError(
                f"state must have shape (batch, {H}, {N2}) or (batch, {H}, "
                f"{2 * N2}), got {tuple(state.shape)}"
            )
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, A, B, C, P, dt, state))
    rdt = _checks.real_dtype_of(xp, cdt)
    cast = lambda a: None if a is None else (a if a.dtype == cdt else xp.astype(a, cdt))
    dt = dt if dt.dtype == rdt else xp.astype(dt, rdt)
    return _Params(xp, cast(A), cast(B), cast(C), cast(P), dt, cast(state), cdt)


def _check_rate(rate):
    rate = float(rate)
    if not rate > 0 or rate != rate or rate == float("inf"):
        raise ValueError(f"rate must be a positive finite number, got {rate}")
    return rate


def _check_lengths(L, rate, C_is_tilde, l_kernel):
    """Validated (L, rate, l_kernel) shared by the kernel and its VJP."""
    L = _checks.check_positive_int("L", L, 1)
    rate = _check_rate(rate)
    if C_is_tilde and l_kernel is None:
        raise ValueError("l_kernel is required when C_is_tilde=True (the length C̃ was made for)")
    if l_kernel is not None:
        l_kernel = _checks.check_positive_int("l_kernel", l_kernel, 1)
    return L, rate, l_kernel


def dplr_kernel(
    A, B, C, P, dt, L, *, rate=1.0, state=None, C_is_tilde=False, l_kernel=None, impl="auto"
):
    r"""S4 DPLR convolution kernel (lrnnx ``S4Kernel.forward``) as a pure function.

    Parameters
    ----------
    A : complex array, shape (H, N/2)
        Diagonal part Λ (already -f_re(A_real) - i f_im(A_imag), repeated to H).
    B : array, shape (H, N/2) or (1, H, N/2)
    C : array, shape (channels, H, N/2)
        The plain output matrix, or C̃ with ``C_is_tilde=True`` (what lrnnx stores after its
        first forward; then ``l_kernel`` is the length it was made for).
    P : array, shape (rank, H, N/2), or None (rank 0)
        Low-rank factor; Q = P̄, so A_full = diag(Λ, Λ̄) - P_f P_f^H.
    dt : real array, shape (H,) or (H, 1)
        Time steps (already transformed; ``rate`` is applied here).
    L : int
        Number of kernel taps returned.
    rate : float, default 1.0
        Relative sampling rate: Δ -> Δ·rate, continuous length round(rate L).
    state : array, shape (batch, H, N/2) or (batch, H, N), optional
        State before step 0 (half: conjugate pairs implied; a full state enters through its
        conjugate-symmetric part, the only part that reaches the real k_state).
    C_is_tilde, l_kernel
        See ``C``; with plain C, ``l_kernel`` (lrnnx's ``l_max``) fixes the C̃ length, doubled
        as lrnnx does until it covers round(rate L). Default: round(rate L).
    impl : {"auto", "cuda", "generic", "reference"}
        Passed to the Cauchy product; ``reference`` runs the float64 dense-power oracle.

    Returns
    -------
    DPLRKernelOut
        ``k`` real (channels, H, L); ``k_state`` real (batch, channels, H, L) or None.

    Notes
    -----
    Bilinear discretisation of A_full: Ā = (2/Δ - A)^{-1}(2/Δ + A), B̄ = (2/Δ - A)^{-1} 2B. At
    rate 1 the kernel is exactly :math:`k_l = C_f \bar A^l \bar B` (real by conjugate symmetry)
    and :math:`k^{state}_l = C_f \bar A^{l+1} s`. In general (rate ≠ 1, or a C̃ made for a longer
    length)
    :math:`k_l = \mathrm{Re}\,\tilde C_f (I-\bar A'^{L_d})^{-1}\bar A'^l \bar B'` with Ā', B̄'
    at Δ·rate and L_d = round(l_kernel / rate), which is what lrnnx computes. Evaluated with the
    symmetric Cauchy product at the L_d/2 + 1 bilinear nodes, Woodbury for the rank-r term
    (closed forms for rank 1 and 2, small solves for rank > 2), the 2/(1+ω) factor, and irfft.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_kernel
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dplr_kernel(A, B, C, P, np.array([0.1]), 8).k.shape
    (1, 1, 8)
    """
    L, rate, l_kernel = _check_lengths(L, rate, C_is_tilde, l_kernel)
    p = _prepare(A, B, C, P, dt, state)
    xp = p.xp
    if resolve_impl(impl, xp, what="dplr_kernel") == "reference":
        from ... import testing
        from ._ref import dplr_kernel_ref

        h = [testing.to_numpy(a) for a in (p.A, p.B, p.C, p.P, p.dt, p.state)]
        k, ks = dplr_kernel_ref(
            *h[:5], L, rate=rate, state=h[5], C_is_tilde=C_is_tilde, l_kernel=l_kernel
        )
        rdt = _checks.real_dtype_of(xp, p.cdt)
        return DPLRKernelOut(
            xp.asarray(k, dtype=rdt), None if ks is None else xp.asarray(ks, dtype=rdt)
        )
    lk, Ld = kernel_lengths(L, rate, l_kernel, C_is_tilde)
    if C_is_tilde:
        Ct, l0 = p.C, l_kernel
        while l0 < lk:
            Ct = G.double_length(xp, Ct, p.A, p.P, p.dt, l0)
            l0 *= 2
    else:
        Ct = G.c_tilde(xp, p.A, p.C, p.P, p.dt, lk)
    dt_r = p.dt * rate
    k = G.kernel(xp, p.A, p.B, Ct, p.P, dt_r, L, Ld, p.state, impl=impl)
    nb = 0 if p.state is None else p.state.shape[0]
    return DPLRKernelOut(k[nb, ...], k[:nb, ...] if nb else None)


def _cotangent_rows(xp, dout, p, L):
    """The (dk, dk_state) pair checked and stacked as the kernel's rows (nb, ch, H, L), real."""
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError(
            "dout must be the pair (dk, dk_state) matching DPLRKernelOut, "
            f"got {type(dout).__name__}"
        )
    dk, dks = dout
    namespace(p.A, dk, dks, names=("A", "dk", "dk_state"))
    ch, H = p.C.shape[0], p.A.shape[0]
    rdt = _checks.real_dtype_of(xp, p.cdt)
    nbs = 0 if p.state is None else p.state.shape[0]
    if dk is not None:
        _checks.check_array_dtype(xp, "dk", dk, allow_complex=False)
        _checks.check_shape("dk", dk, (ch, H, L), "(channels, H, L) like k")
    if dks is not None:
        if p.state is None:
            raise ValueError("dk_state must be None when state is None (k_state is None)")
        _checks.check_array_dtype(xp, "dk_state", dks, allow_complex=False)
        _checks.check_shape(
            "dk_state", dks, (nbs, ch, H, L), "(batch, channels, H, L) like k_state"
        )
    zero = lambda *s: xp.zeros(s, dtype=rdt)  # noqa: E731
    cast = lambda a: a if a.dtype == rdt else xp.astype(a, rdt)  # noqa: E731
    gk = zero(1, ch, H, L) if dk is None else cast(dk)[None, ...]
    if nbs:
        gk = xp.concat([zero(nbs, ch, H, L) if dks is None else cast(dks), gk], axis=0)
    return gk


def _grad_like(xp, g, x):
    """A gradient in the argument's shape and dtype (real part for a real argument)."""
    if x is None:
        return None
    if g is None:
        return xp.zeros(x.shape, dtype=x.dtype)
    if not xp.isdtype(x.dtype, "complex floating") and xp.isdtype(g.dtype, "complex floating"):
        g = xp.real(g)
    g = xp.reshape(g, tuple(x.shape))
    return g if g.dtype == x.dtype else xp.astype(g, x.dtype)


def dplr_kernel_vjp(
    dout, A, B, C, P, dt, L, *, rate=1.0, state=None, C_is_tilde=False, l_kernel=None,
    impl="auto",
):
    r"""Vector-Jacobian product of :func:`dplr_kernel` (hand-derived, every path).

    Parameters
    ----------
    dout : pair (dk, dk_state)
        Cotangents of :class:`DPLRKernelOut`: ``dk`` real (channels, H, L), ``dk_state`` real
        (batch, channels, H, L) (only with ``state``). ``None`` means a zero cotangent.
    A, B, C, P, dt, L, rate, state, C_is_tilde, l_kernel, impl
        As for :func:`dplr_kernel`.

    Returns
    -------
    DPLRKernelGrads
        ``(dA, dB, dC, dP, ddt, dstate)`` in the shapes and dtypes of the arguments (``dP`` None
        without ``P``, ``dstate`` None without ``state``). PyTorch's complex convention
        (:math:`\partial\ell/\partial\mathrm{Re} + i\,\partial\ell/\partial\mathrm{Im}`); real
        arguments (``dt``, a real ``B``...) get the real gradient. ``dC`` is the gradient with
        respect to whichever C was passed (plain C, or C̃ with ``C_is_tilde=True``).

    Notes
    -----
    The forward is recomputed, then differentiated stage by stage in reverse:
    irfft (its adjoint is :math:`\mathrm{rfft}(g)/L_d` with the interior bins counted twice),
    the constant 2/(1+ω), Woodbury (:math:`\hat k = r_{00} - r_{01} X`,
    :math:`X = (I + r_{11})^{-1} r_{10}`: :math:`g_{r_{01}} = -g X^H`,
    :math:`g_{r_{10}} = -(I + r_{11})^{-H} r_{01}^H g`, :math:`g_{r_{11}} = -g_{r_{10}} X^H`),
    :func:`~lrnnx_array.ops.cauchy_vjp` (fixed nodes), the Δ folding
    (v = Δ b̂ ĉ, A' = ΔA), the state row (1/Δ)(I + ΔA_f/2) s, and C̃ = C (I - Ā^L) (or the
    doublings C̃ (I + Ā^l)) through the dense bilinear solve and
    :func:`~lrnnx_array.ops.power_vjp`.
    The NumPy oracle (``impl="reference"``) differentiates the dense formula by explicit
    reverse loops instead.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_kernel_vjp
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> g = dplr_kernel_vjp((np.ones((1, 1, 8)), None), A, B, C, P, np.array([0.1]), 8)
    >>> g.dA.shape, g.ddt.dtype, g.dstate
    ((1, 2), dtype('float64'), None)
    """
    L, rate, l_kernel = _check_lengths(L, rate, C_is_tilde, l_kernel)
    p = _prepare(A, B, C, P, dt, state)
    xp = p.xp
    gk = _cotangent_rows(xp, dout, p, L)
    nbs = gk.shape[0] - 1
    args = (A, B, C, P, dt, state)
    if resolve_impl(impl, xp, what="dplr_kernel_vjp") == "reference":
        from ... import testing
        from ._ref import dplr_kernel_vjp_ref

        h = [testing.to_numpy(a) for a in (p.A, p.B, p.C, p.P, p.dt, p.state)]
        g = testing.to_numpy(gk)
        grads = dplr_kernel_vjp_ref(
            (g[nbs], g[:nbs] if nbs else None), *h[:5], L, rate=rate, state=h[5],
            C_is_tilde=C_is_tilde, l_kernel=l_kernel,
        )
        return DPLRKernelGrads(*(
            None if x is None else _grad_like(xp, xp.asarray(gr), x)
            for gr, x in zip(grads, args)
        ))
    lk, Ld = kernel_lengths(L, rate, l_kernel, C_is_tilde)
    from ..power import power, power_vjp

    N2 = p.A.shape[-1]
    dA0, chain = None, []
    if C_is_tilde:
        Ct, l0 = p.C, l_kernel
        if l0 < lk:
            dA0 = G.dense(xp, p.A, p.P, xp.zeros(p.A.shape, dtype=p.cdt), p.dt)[0]
        while l0 < lk:  # C̃ <- C̃ (I + Ā^{l0}), as the forward
            Q = power(l0, dA0)
            Cf = G.expand(xp, Ct)
            chain.append((Cf, l0, Q))
            Ct = (Cf + G._row_times(xp, Cf, Q))[..., :N2]
            l0 *= 2
    else:
        dA0 = G.dense(xp, p.A, p.P, xp.zeros(p.A.shape, dtype=p.cdt), p.dt)[0]
        Q0 = power(lk, dA0)
        Cf = G.expand(xp, p.C)
        Ct = (Cf - G._row_times(xp, Cf, Q0))[..., :N2]
    gA, gB, gCt, gP, gdt, gstate = G.kernel_vjp(
        xp, gk, p.A, p.B, Ct, p.P, p.dt * rate, L, Ld, p.state, impl=impl
    )
    gdt = gdt * rate
    gdA0 = None
    if C_is_tilde:
        for Cf, lj, Q in reversed(chain):
            gY = G._pad_full(xp, gCt)
            gCf, gQ = G.rows_times_vjp(xp, gY, Cf, Q)
            gCt = G.unexpand(xp, gY + gCf)
            gQ = power_vjp(gQ, lj, dA0).dA
            gdA0 = gQ if gdA0 is None else gdA0 + gQ
        gC = gCt
    else:
        gY = G._pad_full(xp, gCt)
        gCf, gQ = G.rows_times_vjp(xp, gY, Cf, Q0)
        gC = G.unexpand(xp, gY - gCf)
        gdA0 = -power_vjp(gQ, lk, dA0).dA
    if gdA0 is not None:
        gA0, gP0, _, gdt0 = G.dense_vjp(xp, gdA0, None, p.A, p.P, None, p.dt)
        gA, gdt = gA + gA0, gdt + gdt0
        if gP is not None:
            gP = gP + gP0
    grads = (gA, gB, gC, gP, gdt, gstate)
    return DPLRKernelGrads(*(_grad_like(xp, g, x) for g, x in zip(grads, args)))


def dplr_dense(A, P, B, dt):
    r"""Dense bilinear discretisation of the DPLR system in the conj-expanded basis.

    Parameters
    ----------
    A : complex array, shape (H, N/2)
        Diagonal part Λ, as for :func:`dplr_kernel`.
    P : array, shape (rank, H, N/2), or None (rank 0)
        Low-rank factor (Q = P̄).
    B : array, shape (H, N/2) or (1, H, N/2)
        Input matrix, one entry per conjugate pair.
    dt : real array, shape (H,) or (H, 1)
        Positive time step per channel.

    Returns
    -------
    dA : complex array, shape (H, N, N)
        Ā on the conj-expanded basis, N = 2·(N/2) (states ordered [Λ, Λ̄]).
    dB : complex array, shape (H, N)
        B̄ on the same basis.

    Notes
    -----
    With :math:`A_f = \mathrm{diag}(\Lambda,\bar\Lambda) - P_f P_f^H`, :math:`P_f = [P, \bar P]`,
    :math:`B_f = [B, \bar B]`:
    :math:`\bar A = (2/\Delta - A_f)^{-1}(2/\Delta + A_f)`,
    :math:`\bar B = (2/\Delta - A_f)^{-1}\, 2 B_f`, by linear solves (lrnnx steps the identity
    basis through its Woodbury step instead; same matrix).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import discretize, dplr_dense
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dA, dB = dplr_dense(A, P, B, dt)
    >>> dA.shape, dB.shape
    ((1, 4, 4), (1, 4))

    Without the low-rank term it is the elementwise bilinear transform of [Λ, Λ̄] (here B = 1,
    so B̄ = γ̄):

    >>> dA0, dB0 = dplr_dense(A, None, B, dt)
    >>> Af = np.concatenate([A, A.conj()], axis=-1)
    >>> A_bar, gamma_bar = discretize(Af, dt[:, None], "bilinear")
    >>> np.allclose(dA0[0], np.diag(A_bar[0])), np.allclose(dB0, gamma_bar)
    (True, True)
    """
    p = _prepare(A, B, None, P, dt)
    return G.dense(p.xp, p.A, p.P, p.B, p.dt)


def c_tilde(A, C, P, dt, L):
    r""":math:`\tilde C = C (I - \bar A^L)`, computed on the full basis and truncated to N/2.

    What lrnnx's ``_setup_C(L)`` writes into its C parameter on the first forward; returned
    here instead (C is not modified).

    Parameters
    ----------
    A : complex array, shape (H, N/2)
        Diagonal part Λ, as for :func:`dplr_kernel`.
    C : array, shape (channels, H, N/2)
        The plain output matrix.
    P : array, shape (rank, H, N/2), or None (rank 0)
        Low-rank factor.
    dt : real array, shape (H,) or (H, 1)
        Positive time step per channel.
    L : int
        Length C̃ is made for (>= 0; L = 0 gives zeros).

    Returns
    -------
    C_tilde : complex array, shape (channels, H, N/2)
        C̃ on the half basis (its conjugate half is implied).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import c_from_tilde, c_tilde
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); C = np.ones((1, 1, 2), complex)
    >>> P = 0.3 * np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> Ct = c_tilde(A, C, P, dt, 4)
    >>> Ct.shape
    (1, 1, 2)
    >>> np.allclose(c_from_tilde(Ct, A, P, dt, 4), C)
    True
    """
    L = _checks.check_positive_int("L", L, 0)
    p = _prepare(A, None, C, P, dt, need_B=False)
    return G.c_tilde(p.xp, p.A, p.C, p.P, p.dt, L)


def c_from_tilde(C_tilde, A, P, dt, L):
    r"""Recover C from C̃ = C (I - Ā^L) (e.g. from an lrnnx checkpoint with ``l_kernel`` = L).

    Parameters
    ----------
    C_tilde : array, shape (channels, H, N/2)
        C̃ made for length ``L`` (what lrnnx stores in its C parameter).
    A, P, dt
        As for :func:`c_tilde`.
    L : int
        The length C̃ was made for (>= 1).

    Returns
    -------
    C : complex array, shape (channels, H, N/2)
        The plain output matrix, C = C̃ (I - Ā^L)^{-1} (truncated to the half basis).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import c_from_tilde, c_tilde
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); C = np.ones((1, 1, 2), complex)
    >>> P = 0.3 * np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> C2 = c_from_tilde(c_tilde(A, C, P, dt, 8), A, P, dt, 8)
    >>> C2.shape, np.allclose(C2, C)
    ((1, 1, 2), True)
    """
    L = _checks.check_positive_int("L", L, 1)
    p = _prepare(A, None, C_tilde, P, dt, need_B=False, C_name="C_tilde")
    return G.c_from_tilde(p.xp, p.C, p.A, p.P, p.dt, L)


def double_length(C_tilde, A, P, dt, l_kernel):
    r"""lrnnx's length doubling: C̃ (I + Ā^{l}) (= C (I - Ā^{2l})). Returns (C̃', 2 l).

    Parameters
    ----------
    C_tilde : array, shape (channels, H, N/2)
        C̃ made for length ``l_kernel``.
    A, P, dt
        As for :func:`c_tilde`.
    l_kernel : int
        The length ``C_tilde`` was made for (>= 1).

    Returns
    -------
    C_tilde2 : complex array, shape (channels, H, N/2)
        C̃ for length ``2 * l_kernel``.
    l_kernel2 : int
        ``2 * l_kernel``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import c_tilde, double_length
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); C = np.ones((1, 1, 2), complex)
    >>> P = 0.3 * np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> Ct8, l = double_length(c_tilde(A, C, P, dt, 4), A, P, dt, 4)
    >>> l, np.allclose(Ct8, c_tilde(A, C, P, dt, 8))
    (8, True)
    """
    l_kernel = _checks.check_positive_int("l_kernel", l_kernel, 1)
    p = _prepare(A, None, C_tilde, P, dt, need_B=False, C_name="C_tilde")
    return G.double_length(p.xp, p.C, p.A, p.P, p.dt, l_kernel), 2 * l_kernel


def dplr_step_setup(A, B, C, P, dt, *, mode="dense", C_is_tilde=False, l_kernel=None):
    r"""Recurrent form of the DPLR kernel (lrnnx ``S4Kernel._setup_step``), as arrays.

    Parameters
    ----------
    A, B, C, P, dt
        As for :func:`dplr_kernel` (rate 1).
    mode : {"dense", "linear", "diagonal"}
        ``dense``: :class:`DenseStep` (dA (H, N, N), dB (H, N), dC = C_f (channels, H, N)).
        ``linear``: :class:`LinearStep`, the O(N r) Woodbury bilinear step on the half state
        (D = (2/Δ - Λ)^{-1}, E = 2/Δ + Λ, R = (I + 2 Re(P^H D P))^{-1} P^H D, dC = 2 C).
        ``diagonal``: :class:`DiagonalStep`, dA = eig(Ā) (H, N), dB = V^{-1} B̄, dC = C_f V.
    C_is_tilde, l_kernel
        With ``C_is_tilde=True`` C is C̃ for length ``l_kernel`` and C is recovered first (as
        lrnnx's dC = (I - Ā^{l_kernel})^{-T} C̃).

    Returns
    -------
    DenseStep | LinearStep | DiagonalStep
        Use with :func:`dplr_step` and :func:`dplr_default_state`. Iterating the step L times
        equals the convolution with ``dplr_kernel(..., L)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dense = dplr_step_setup(A, B, C, P, dt)
    >>> dense.dA.shape, dense.dB.shape, dense.dC.shape
    ((1, 4, 4), (1, 4), (1, 1, 4))
    >>> linear = dplr_step_setup(A, B, C, P, dt, mode="linear")
    >>> linear.D.shape, linear.R.shape, linear.dC.shape
    ((1, 2), (1, 1, 2), (1, 1, 2))
    >>> diagonal = dplr_step_setup(A, B, C, P, dt, mode="diagonal")
    >>> diagonal.dA.shape
    (1, 4)
    """
    _checks.check_option("mode", mode, STEP_MODES)
    p = _prepare(A, B, C, P, dt)
    xp = p.xp
    C = p.C
    if C_is_tilde:
        if l_kernel is None:
            raise ValueError("l_kernel is required when C_is_tilde=True")
        C = G.c_from_tilde(
            xp, C, p.A, p.P, p.dt, _checks.check_positive_int("l_kernel", l_kernel, 1)
        )
    if mode == "linear":
        D, E, R = G.linear_setup(xp, p.A, p.B, p.P, p.dt)
        return LinearStep(D, E, p.P, R, p.B, 2 * C)
    dA, dB = G.dense(xp, p.A, p.P, p.B, p.dt)
    dC = G.expand(xp, C)
    if mode == "dense":
        return DenseStep(dA, dB, dC)
    lam, V = G.eig(xp, dA)
    dB = xp.linalg.solve(V, dB[..., None])[..., 0]
    return DiagonalStep(lam, dB, G._row_times(xp, dC, V))


def dplr_default_state(setup, batch):
    """Zero state for ``setup``: (batch, H, N) for dense/diagonal, (batch, H, N/2) for linear.

    Parameters
    ----------
    setup : DenseStep | LinearStep | DiagonalStep
        From :func:`dplr_step_setup`.
    batch : int
        Batch size (>= 0).

    Returns
    -------
    state : complex array of zeros
        Shape (batch, H, N) for dense and diagonal setups, (batch, H, N/2) for linear; dtype of
        the setup's arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_default_state, dplr_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dplr_default_state(dplr_step_setup(A, B, C, P, dt), 3).shape
    (3, 1, 4)
    >>> dplr_default_state(dplr_step_setup(A, B, C, P, dt, mode="linear"), 3).shape
    (3, 1, 2)
    """
    batch = _checks.check_positive_int("batch", batch, 0)
    ref = setup.D if isinstance(setup, LinearStep) else setup.dB
    xp = namespace(ref)
    return xp.zeros((batch,) + tuple(ref.shape), dtype=ref.dtype)


def dplr_step(u, state, setup):
    r"""One recurrent step of the DPLR SSM; returns ``(y, new_state)`` (nothing is mutated).

    Parameters
    ----------
    u : real array, shape (batch, H)
    state : complex array, (batch, H, N) (dense, diagonal) or (batch, H, N/2) (linear)
    setup : DenseStep | LinearStep | DiagonalStep from :func:`dplr_step_setup`

    Returns
    -------
    y : real array, shape (batch, channels, H)
        Re(dC · x').
    new_state : complex array, shape of ``state``

    Examples
    --------
    Stepping an impulse through every mode reproduces the convolution kernel:

    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_default_state, dplr_kernel, dplr_step, dplr_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> k = dplr_kernel(A, B, C, P, dt, 4).k[0, 0]
    >>> for mode in ("dense", "linear", "diagonal"):
    ...     setup = dplr_step_setup(A, B, C, P, dt, mode=mode)
    ...     x, ys = dplr_default_state(setup, 1), []
    ...     for u in (1.0, 0.0, 0.0, 0.0):
    ...         y, x = dplr_step(np.full((1, 1), u), x, setup)
    ...         ys.append(y[0, 0, 0])
    ...     print(mode, np.allclose(ys, k))
    dense True
    linear True
    diagonal True
    """
    if not isinstance(setup, (DenseStep, LinearStep, DiagonalStep)):
        raise TypeError(f"setup must come from dplr_step_setup, got {type(setup).__name__}")
    xp = namespace(u, state, names=("u", "state"))
    _checks.check_array_dtype(xp, "u", u, allow_complex=False)
    _checks.check_ndim("u", u, 2, "(batch, H)")
    want = (u.shape[0],) + tuple((setup.D if isinstance(setup, LinearStep) else setup.dB).shape)
    _checks.check_shape("state", state, want, "(batch, H, state size of this step mode)")
    cd = setup.dC.dtype
    x = state if state.dtype == cd else xp.astype(state, cd)
    uc = xp.astype(u, cd)
    if isinstance(setup, DenseStep):
        new = xp.matmul(setup.dA, x[..., None])[..., 0] + setup.dB * uc[..., None]
    elif isinstance(setup, DiagonalStep):
        new = setup.dA * x + setup.dB * uc[..., None]
    else:
        new = G.linear_step(xp, u, x, setup.D, setup.E, setup.P, setup.R, setup.B)
    y = xp.real(xp.sum(setup.dC[None, ...] * new[:, None, ...], axis=-1))
    return y, new


def dplr_forward_state(u, state, dA, dB):
    r"""State after running the dense recurrence over ``u`` (lrnnx ``S4Kernel.forward_state``).

    Parameters
    ----------
    u : real array, shape (batch, H, L)
    state : complex array, (batch, H, N/2) or (batch, H, N), or None (zero)
    dA, dB : arrays from :func:`dplr_dense` (or a dense :func:`dplr_step_setup`)

    Returns
    -------
    new_state : same size as ``state`` (N if ``state`` is None)

    Notes
    -----
    :math:`x_L = \bar A^L x + \sum_{l<L}\bar A^{L-1-l}\bar B u_l`, with both terms from
    ``power(L, dA, v)`` on the reversed, B̄-weighted input (O(log L) batched matmuls).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_dense, dplr_forward_state
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dA, dB = dplr_dense(A, P, B, dt)
    >>> u = np.random.default_rng(0).normal(size=(2, 1, 5))
    >>> x = np.zeros((2, 1, 4), complex)
    >>> for t in range(5):
    ...     x = (dA @ x[..., None])[..., 0] + dB * u[:, :, t, None]
    >>> np.allclose(dplr_forward_state(u, None, dA, dB), x)
    True

    A half state (batch, H, N/2) gives a half state back:

    >>> dplr_forward_state(u, x[..., :2], dA, dB).shape
    (2, 1, 2)
    """
    from ..power import power

    xp = namespace(u, state, dA, dB, names=("u", "state", "dA", "dB"))
    _checks.check_array_dtype(xp, "u", u, allow_complex=False)
    _checks.check_ndim("u", u, 3, "(batch, H, L)")
    H, N = dB.shape
    _checks.check_shape("dA", dA, (H, N, N), "(H, N, N)")
    if u.shape[1] != H:
        raise ValueError(f"u must have shape (batch, {H}, L), got {tuple(u.shape)}")
    L = u.shape[-1]
    v = dB[None, :, :, None] * xp.astype(xp.flip(u, axis=-1), dB.dtype)[:, :, None, :]
    AL, s = power(L, dA, v)
    if state is None:
        return s
    half = state.shape[-1] == N // 2
    x = G.expand(xp, state) if half else state
    _checks.check_shape("state", x, (u.shape[0], H, N), "(batch, H, N/2) or (batch, H, N)")
    new = xp.matmul(AL, xp.astype(x, dB.dtype)[..., None])[..., 0] + s
    return new[..., : N // 2] if half else new
