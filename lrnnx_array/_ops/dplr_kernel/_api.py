"""S4 DPLR convolution kernel and its VJP as pure functions (spec §3.11); the family's SPEC.

Nothing is mutated: lrnnx's ``_setup_C`` overwrites its C parameter with C̃ = C (I - Ā^L);
here :func:`c_tilde` returns C̃, :func:`dplr_kernel` takes the plain C by default (or C̃ with
``C_is_tilde=True`` to port an lrnnx checkpoint), and :func:`c_from_tilde` recovers C. The C̃
utilities, the step modes and forward_state live in ``_ctilde_api``, ``_step_api`` and
``_state_api``; all of them validate through the one :data:`SPEC`.
"""

from __future__ import annotations

from typing import NamedTuple

from ..._dispatch import Arg, OpSpec, float_dtypes
from ..cauchy._api import SPEC as CAUCHY_SPEC
from ..power._api import SPEC as POWER_SPEC
from ._shapes import check_lengths, cotangent_rows, grad_as, prepare

__all__ = ["dplr_kernel", "DPLRKernelOut", "dplr_kernel_vjp", "DPLRKernelGrads", "SPEC"]

# One declaration for the whole family (kernel, C̃ utilities, steps, forward_state). "cuda" is
# the generic module with the Cauchy product's CUDA kernel as its child (there is no DPLR
# kernel of its own), so CuPy arrays resolve to it under impl="auto".
SPEC = OpSpec(
    "dplr_kernel",
    __package__,
    (
        Arg("A", "complex", param=True), Arg("B", param=True), Arg("C", param=True),
        Arg("C_tilde", param=True), Arg("P", required=False, param=True),
        Arg("dt", "real", param=True), Arg("state", required=False),
        Arg("u", "real"), Arg("dA", param=True), Arg("dB", param=True), Arg("dC", param=True),
        Arg("D", param=True), Arg("E", param=True), Arg("R", required=False, param=True),
    ),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_generic"},
    supports={"cuda": float_dtypes("complex64", "complex128")},
)
_COTANGENTS = {"dk": Arg("dk", "real", required=False),
               "dk_state": Arg("dk_state", "real", required=False)}


def children(name):
    """The cauchy and power implementations that the resolved ``name`` composes (once)."""
    from ._generic import Children

    power = "generic" if name == "cuda" else name  # power has no kernel: cuBLAS via generic
    return Children(CAUCHY_SPEC.get(name, "forward"), CAUCHY_SPEC.get(name, "backward"),
                    POWER_SPEC.get(power, "matrix_power"), POWER_SPEC.get(power, "power_vjp"),
                    POWER_SPEC.get(power, "power_sum"))


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


def dplr_kernel(
    A, B, C, P, dt, L, *, rate=1.0, state=None, C_is_tilde=False, l_kernel=None, impl="auto",
    check_finite=True, dt_tie=True,
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
    dt : real array, shape (H,) or (H, 1); (H, N/2) with ``dt_tie=False``
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
        Resolved once here: ``cuda`` runs the Cauchy product's kernel (the rest is array-API
        code), ``reference`` the float64 dense-power oracle.
    check_finite : bool, default True
        Whether to check that the parameters ``A``, ``B``, ``C``, ``P`` and ``dt`` (and
        ``state``'s kind) contain only finite numbers and that ``dt > 0``, and to let the
        Cauchy product recompute near-singular rows exactly. Disabling may give a performance
        gain (no device synchronisation), but may give NaN/inf results if the inputs do contain
        infinities, NaNs or non-positive steps.
    dt_tie : bool, default True
        One step per channel (lrnnx's default). ``False``: one step per mode, dt (H, N/2)
        (lrnnx's ``dt_tie=False``; (H,) or (H, 1) still mean a step constant over the modes):
        the system is diag(Δ_f)(Λ_f - P_f P_f^H) with input Δ_f B_f, discretised with a unit
        step; still DPLR, with left factor ΔP and right factor P.

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

    One step per mode (lrnnx's ``dt_tie=False``); equal steps give the per-channel kernel:

    >>> k2 = dplr_kernel(A, B, C, P, np.array([[0.1, 0.2]]), 8, dt_tie=False).k
    >>> k1 = dplr_kernel(A, B, C, P, np.array([[0.1, 0.1]]), 8, dt_tie=False).k
    >>> k2.shape, np.array_equal(k1, dplr_kernel(A, B, C, P, np.array([0.1]), 8).k)
    ((1, 1, 8), True)
    """
    L, rate, C_is_tilde, l_kernel = check_lengths(L, rate, C_is_tilde, l_kernel)
    xp = SPEC.validate({"A": A, "B": B, "C": C, "P": P, "dt": dt, "state": state},
                       check_finite=check_finite)
    p = prepare(xp, A, B, C, P, dt, state, check_finite=check_finite, dt_tie=dt_tie)
    name = SPEC.resolve(impl, xp, p.cdt)
    k, ks = SPEC.get(name, "kernel")(
        xp, p.A, p.B, p.C, p.P, p.dt, p.state, L, rate=rate, C_is_tilde=C_is_tilde,
        l_kernel=l_kernel, ops=None if name == "reference" else children(name),
        guard=bool(check_finite))
    return DPLRKernelOut(k, ks)


def dplr_kernel_vjp(
    dout, A, B, C, P, dt, L, *, rate=1.0, state=None, C_is_tilde=False, l_kernel=None,
    impl="auto", check_finite=True, dt_tie=True,
):
    r"""Vector-Jacobian product of :func:`dplr_kernel` (hand-derived, every path).

    Parameters
    ----------
    dout : pair (dk, dk_state)
        Cotangents of :class:`DPLRKernelOut`: ``dk`` real (channels, H, L), ``dk_state`` real
        (batch, channels, H, L) (only with ``state``). ``None`` means a zero cotangent.
    A, B, C, P, dt, L, rate, state, C_is_tilde, l_kernel, impl, check_finite, dt_tie
        As for :func:`dplr_kernel` (``ddt`` has dt's shape: (H, N/2) per mode).

    Returns
    -------
    DPLRKernelGrads
        ``(dA, dB, dC, dP, ddt, dstate)`` in the shapes of the arguments, each in its
        argument's kind at the computation's precision (float16 ``dt`` gives float32 ``ddt``;
        nothing is demoted to a narrower argument's dtype) (``dP`` None without ``P``,
        ``dstate`` None without ``state``). PyTorch's complex convention
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
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError(
            "dout must be the pair (dk, dk_state) matching DPLRKernelOut, "
            f"got {type(dout).__name__}"
        )
    dk, dks = dout
    L, rate, C_is_tilde, l_kernel = check_lengths(L, rate, C_is_tilde, l_kernel)
    args = {"A": A, "B": B, "C": C, "P": P, "dt": dt, "state": state}
    xp = SPEC.validate({**args, "dk": dk, "dk_state": dks}, check_finite=check_finite,
                       extra=_COTANGENTS)
    p = prepare(xp, A, B, C, P, dt, state, check_finite=check_finite, dt_tie=dt_tie)
    gk = cotangent_rows(xp, (dk, dks), p, L)
    name = SPEC.resolve(impl, xp, p.cdt)
    grads = SPEC.get(name, "kernel_vjp")(
        xp, gk, p.A, p.B, p.C, p.P, p.dt, p.state, L, rate=rate, C_is_tilde=C_is_tilde,
        l_kernel=l_kernel, ops=None if name == "reference" else children(name),
        guard=bool(check_finite))
    return DPLRKernelGrads(*(grad_as(xp, g, x, p.cdt) for g, x in zip(grads, args.values())))
