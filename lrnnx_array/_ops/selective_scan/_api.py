"""Public selective scan (S6/Mamba) with lrnnx's six discretizations, and its VJP."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic

__all__ = ["selective_scan", "selective_scan_vjp", "SelectiveScanGrads"]

METHODS = _generic.METHODS
_REAL_ONLY = ("s7", "rglru")


class SelectiveScanGrads(NamedTuple):
    du: object
    ddelta: object
    dA: object
    dB: object
    dC: object
    dD: object
    dz: object
    ddelta_bias: object
    ddeltaA: object
    dh0: object


class _Spec(NamedTuple):
    xp: object
    Bsz: int
    Dm: int
    L: int
    N: int
    G: int
    rt: object  # real compute dtype (also the output dtype)
    st: object  # state dtype: rt, or its complex twin for complex A


_NAMES = (
    "u",
    "delta",
    "A",
    "B",
    "C",
    "D",
    "z",
    "delta_bias",
    "deltaA",
    "h0",
    "dout",
    "dlast_state",
)


_ORDER_HINT = (
    "lrnnx's selective_scan_fn takes deltaA before delta_softplus; here deltaA comes after "
    "discretization, so pass it by keyword (deltaA=...)"
)


def _validate(
    u, delta, A, B, C, D, z, delta_bias, deltaA, h0, method, dout=None, dlast_state=None
) -> _Spec:
    arrays = (u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dout, dlast_state)
    xp = namespace(*arrays, names=_NAMES)
    _checks.check_option("discretization", method, METHODS)
    for name, x in zip(_NAMES, arrays):
        if x is None:
            continue
        real_only = name not in ("A", "B", "C", "h0", "dlast_state")
        _checks.check_array_dtype(xp, name, x, allow_complex=not real_only)
    _checks.check_ndim("u", u, 3, "(batch, dim, seqlen)")
    Bsz, Dm, L = (int(s) for s in u.shape)
    _checks.check_shape("delta", delta, (Bsz, Dm, L), "like u")
    _checks.check_ndim("A", A, 2, "(dim, dstate)")
    _checks.check_shape("A", A, (Dm, None), "(dim, dstate) with dim = u.shape[1]")
    N = int(A.shape[1])
    cplx = xp.isdtype(A.dtype, "complex floating")
    if method in _REAL_ONLY and cplx:
        raise TypeError(f"discretization={method!r} needs a real A, got A with dtype {A.dtype}")
    G = 1
    var_groups = []  # group count of each variable B/C; they must agree (3-D counts as 1)
    for name, X in (("B", B), ("C", C)):
        if X.ndim == 2:
            _checks.check_shape(name, X, (Dm, N), "(dim, dstate) when constant")
        elif X.ndim in (3, 4):
            lead = (Bsz,) if X.ndim == 3 else (Bsz, None)
            hint = (
                " (complex variable B/C are complex arrays here, not lrnnx's interleaved "
                "re/im floats of length 2L)"
                if cplx
                else ""
            )
            _checks.check_shape(
                name,
                X,
                lead + (N, L),
                f"(batch, {'groups, ' if X.ndim == 4 else ''}dstate, seqlen)" + hint,
            )
            g = 1 if X.ndim == 3 else int(X.shape[1])
            if g < 1 or Dm % g:
                raise ValueError(f"{name} has {g} groups, which must divide dim = {Dm}")
            if var_groups and g != var_groups[0]:
                raise ValueError(
                    f"variable B and C must have the same number of groups, got "
                    f"{var_groups[0]} (B) and {g} (C)"
                )
            var_groups.append(g)
            G = max(G, g)
        else:
            raise ValueError(
                f"{name} must have shape (dim, dstate), (batch, dstate, seqlen) or "
                f"(batch, groups, dstate, seqlen), got {tuple(X.shape)}"
            )
        if not cplx and xp.isdtype(X.dtype, "complex floating"):
            raise TypeError(
                f"{name} is complex ({X.dtype}) but A is real ({A.dtype}); "
                "complex B/C need a complex A"
            )
    for name, x, shape in (
        ("D", D, (Dm,)),
        ("delta_bias", delta_bias, (Dm,)),
        ("z", z, (Bsz, Dm, L)),
        ("deltaA", deltaA, (Bsz, Dm, L)),
        ("h0", h0, (Bsz, Dm, N)),
        ("dout", dout, (Bsz, Dm, L)),
        ("dlast_state", dlast_state, (Bsz, Dm, N)),
    ):
        if x is not None:
            _checks.check_shape(name, x, shape)
    if not cplx:
        for name, x in (("h0", h0), ("dlast_state", dlast_state)):
            if x is not None and xp.isdtype(x.dtype, "complex floating"):
                raise TypeError(f"{name} is complex ({x.dtype}) but A is real ({A.dtype})")
    _checks.check_finite(xp, "A", A)
    if method == "rglru" and not bool(xp.all(A > 0)):
        raise ValueError("discretization='rglru' needs A > 0 (Ā = A**Δ), got entries <= 0")
    present = [x for x in arrays if x is not None]
    ct = _checks.result_dtype(xp, *present)
    rt = _checks.real_dtype_of(xp, ct)
    st = _checks.complex_dtype_of(xp, rt) if cplx else rt
    return _Spec(xp, Bsz, Dm, L, N, G, rt, st)


def _cast(xp, x, dtype):
    return None if x is None or x.dtype == dtype else xp.astype(x, dtype)


def _cast_all(sp: _Spec, u, delta, A, B, C, D, z, delta_bias, deltaA, h0):
    xp, rt, st = sp.xp, sp.rt, sp.st

    def c(x, dt):
        return x if x is None or x.dtype == dt else xp.astype(x, dt)

    return (
        c(u, rt),
        c(delta, rt),
        c(A, st),
        c(B, st),
        c(C, st),
        c(D, rt),
        c(z, rt),
        c(delta_bias, rt),
        c(deltaA, rt),
        c(h0, st),
    )


def _cuda_ok(sp: _Spec) -> bool:
    return str(sp.rt).split(".")[-1] in ("float32", "float64")


def _steps(xp, delta, delta_bias, delta_softplus):
    """(raw, Δ): raw = delta + bias, Δ = softplus(raw) when asked."""
    raw = delta if delta_bias is None else delta + xp.expand_dims(delta_bias, axis=-1)
    return raw, (_generic.softplus(xp, raw) if delta_softplus else raw)


def _finish(xp, y, u, D, z):
    """out = (y + D·u)·silu(z)."""
    if D is not None:
        y = y + xp.expand_dims(D, axis=-1) * u
    if z is not None:
        y = y * (z * _generic.sigmoid(xp, z))
    return y


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    discretization="mamba",
    deltaA=None,
    *,
    h0=None,
    impl="auto",
):
    r"""Selective scan (S6 / Mamba) with lrnnx's discretizations.

    Parameters
    ----------
    u : array, shape (batch, dim, seqlen)
        Input (real).
    delta : array, shape (batch, dim, seqlen)
        Raw time step Δ (real). For ``"s7"`` it carries the time-varying ``a``; for
        ``"rglru"`` the exponent (c·r_t).
    A : array, shape (dim, dstate)
        Diagonal state matrix, real or complex.
    B, C : array
        Constant ``(dim, dstate)``, variable ``(batch, dstate, seqlen)``, or grouped
        ``(batch, groups, dstate, seqlen)`` (channel d uses group ``d // (dim // groups)``).
        With complex A they may be complex (variable ones as complex arrays).
    D : array, shape (dim,), optional
        Skip connection: adds ``D * u``.
    z : array, shape (batch, dim, seqlen), optional
        Gate: the output is multiplied by ``silu(z)``.
    delta_bias : array, shape (dim,), optional
        Added to ``delta`` (before the softplus).
    delta_softplus : bool, default False
        Apply softplus (identity above 20) to ``delta + delta_bias``.
    return_last_state : bool, default False
        Also return the final state.
    discretization : {"mamba", "zoh", "bilinear", "dirac", "s7", "rglru"}
        How Ā and the input term are built (spec §2). ``s7`` and ``rglru`` need real A.
    deltaA : array, shape (batch, dim, seqlen), optional
        Separate raw time step for A (event / STREAM mode; no bias, no softplus).
    h0 : array, shape (batch, dim, dstate), optional
        Initial state (zero if omitted). Keyword-only; not in lrnnx.
    impl : {"auto", "cuda", "generic", "reference"}
        ``auto`` runs the CUDA kernel on CuPy inputs, the array-API path otherwise.

    Returns
    -------
    out : array, shape (batch, dim, seqlen)
        Real, at the inputs' precision.
    last_state : array, shape (batch, dim, dstate)
        Only with ``return_last_state``; complex for complex A.

    Notes
    -----
    With :math:`\Delta = \operatorname{softplus}(\delta + b)` (or without softplus) and
    :math:`\Delta^A` = ``deltaA`` or :math:`\Delta`:

    .. math::
        h_t = \bar A_t \odot h_{t-1} + \gamma_t\, B_t\, u_t,\qquad
        y_t = \sum_n C_{t,n} h_{t,n}
        \quad (2\,\mathrm{Re}\sum_n C_{t,n} h_{t,n}\ \text{for complex A}),

    out = (y + D u)·silu(z). mamba: Ā = exp(ΔᴬA), γ = Δ; zoh: Ā = exp(ΔᴬA),
    γ = (exp(ΔA) − 1)/A; bilinear: Ā = (1 + ΔᴬA/2)/(1 − ΔᴬA/2), γ = Δ/(1 − ΔA/2); dirac:
    Ā = exp(ΔᴬA), γ = 1; s7: Ā = 1 − 1/((Δᴬ)² + ½), γ = 1; rglru: Ā = A^{Δᴬ},
    γ = sqrt(1 − Ā²). h_{-1} = h0.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import selective_scan
    >>> u = np.ones((1, 1, 3)); dt = np.full((1, 1, 3), 0.5)
    >>> A = np.array([[-1.0]]); B = C = np.ones((1, 1))
    >>> np.round(selective_scan(u, dt, A, B, C), 4)
    array([[[0.5   , 0.8033, 0.9872]]])
    """
    _checks.check_bool("delta_softplus", delta_softplus, _ORDER_HINT)
    _checks.check_bool("return_last_state", return_last_state)
    sp = _validate(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, discretization)
    xp = sp.xp
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(sp), what="selective_scan")
    if impl == "reference":
        from ._ref import selective_scan_ref

        out, last = selective_scan_ref(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, True, discretization, deltaA, h0=h0
        )
        out, last = xp.asarray(out, dtype=sp.rt), xp.asarray(last, dtype=sp.st)
        return (out, last) if return_last_state else out
    u, delta, A, B, C, D, z, delta_bias, deltaA, h0 = _cast_all(
        sp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0
    )
    if impl == "cuda":
        from ._cuda import selective_scan_fwd_cuda

        out, last = selective_scan_fwd_cuda(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, discretization, deltaA, h0, sp.G
        )
    else:
        _, dt = _steps(xp, delta, delta_bias, delta_softplus)
        P = _generic.make_problem(xp, u, dt, deltaA, A, B, C, h0, sp.G, discretization)
        yT, lastT = _generic.scan_forward(xp, P, sp.st)
        out = _finish(xp, _generic.from_time_major(xp, yT), u, D, z)
        last = _generic.state_unlayout(xp, lastT)
    return (out, last) if return_last_state else out


def selective_scan_vjp(
    dout,
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    discretization="mamba",
    deltaA=None,
    *,
    h0=None,
    dlast_state=None,
    impl="auto",
):
    r"""Vector-Jacobian product of :func:`selective_scan`.

    Parameters
    ----------
    dout : array, shape (batch, dim, seqlen)
        Cotangent of ``out``.
    u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, discretization
        As for :func:`selective_scan` (``return_last_state`` is accepted for symmetry).
    deltaA, h0, impl
        As for :func:`selective_scan`.
    dlast_state : array, shape (batch, dim, dstate), optional
        Cotangent of the final state (the last state is differentiable here, unlike lrnnx).

    Returns
    -------
    SelectiveScanGrads
        ``(du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0)``, each shaped like its
        argument (None where the argument is None). Complex gradients follow PyTorch's
        convention (dl/dRe + i dl/dIm); real arguments get real gradients. ``ddelta`` is zero
        when Δ does not enter (dirac or s7 with ``deltaA``).

    Notes
    -----
    With :math:`\lambda_t = c_t\,gy_t + \overline{\bar A_{t+1}}\lambda_{t+1}` (c = C, or 2·conj(C)
    for complex A; gy the cotangent of y), :math:`G_{\bar A_t} = \lambda_t\overline{h_{t-1}}`
    and :math:`G_{\bar b_t} = \lambda_t`; the chain rule through the discretization gives the
    rest. h_{t-1} is recomputed from chunk-boundary states, never obtained by dividing by Ā.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import selective_scan, selective_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, dt = rng.normal(size=(1, 2, 5)), rng.uniform(0.1, 1, (1, 2, 5))
    >>> A = -rng.uniform(0.5, 1, (2, 3)); B, C = rng.normal(size=(2, 2, 3))
    >>> dout = rng.normal(size=(1, 2, 5))
    >>> g = selective_scan_vjp(dout, u, dt, A, B, C)
    >>> g.du.shape, g.ddelta.shape, g.dA.shape, g.dB.shape, g.dD is None
    ((1, 2, 5), (1, 2, 5), (2, 3), (2, 3), True)

    ``out`` and the last state are linear in ``u``, so for any ``v``
    ``<dout, out(v)> + <dlast_state, last_state(v)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> out, last = selective_scan(v, dt, A, B, C, return_last_state=True)
    >>> dlast = rng.normal(size=last.shape)
    >>> g = selective_scan_vjp(dout, u, dt, A, B, C, dlast_state=dlast)
    >>> np.allclose(np.sum(dout * out) + np.sum(dlast * last), np.sum(g.du * v))
    True
    """
    _checks.check_bool("delta_softplus", delta_softplus, _ORDER_HINT)
    _checks.check_bool("return_last_state", return_last_state)
    sp = _validate(
        u, delta, A, B, C, D, z, delta_bias, deltaA, h0, discretization, dout, dlast_state
    )
    xp = sp.xp
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(sp), what="selective_scan_vjp")
    originals = (u, delta, A, B, C, D, z, delta_bias, deltaA, h0)
    if impl == "reference":
        from ._ref import selective_scan_vjp_ref

        g = selective_scan_vjp_ref(
            dout,
            u,
            delta,
            A,
            B,
            C,
            D,
            z,
            delta_bias,
            delta_softplus,
            True,
            discretization,
            deltaA,
            h0=h0,
            dlast_state=dlast_state,
        )
        return _package(sp, g, originals)
    u, delta, A, B, C, D, z, delta_bias, deltaA, h0 = _cast_all(
        sp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0
    )
    dout = xp.astype(dout, sp.rt) if dout.dtype != sp.rt else dout
    if dlast_state is not None and dlast_state.dtype != sp.st:
        dlast_state = xp.astype(dlast_state, sp.st)
    if impl == "cuda":
        from ._cuda import selective_scan_bwd_cuda

        g = selective_scan_bwd_cuda(
            dout,
            u,
            delta,
            A,
            B,
            C,
            D,
            z,
            delta_bias,
            delta_softplus,
            discretization,
            deltaA,
            h0,
            dlast_state,
            sp.G,
        )
    else:
        g = _vjp_generic(
            sp,
            dout,
            u,
            delta,
            A,
            B,
            C,
            D,
            z,
            delta_bias,
            delta_softplus,
            discretization,
            deltaA,
            h0,
            dlast_state,
        )
    return _package(sp, g, originals)


def _vjp_generic(
    sp, dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0, dlast
):
    xp, G = sp.xp, sp.G
    raw, dt = _steps(xp, delta, delta_bias, delta_softplus)
    if z is not None:
        sz = _generic.sigmoid(xp, z)
        gy = dout * (z * sz)
    else:
        gy = dout
    P = _generic.make_problem(xp, u, dt, deltaA, A, B, C, h0, G, method)
    dlT = None if dlast is None else _generic.state_layout(xp, dlast, G)
    r = _generic.scan_backward(xp, P, _generic.time_major(xp, gy, G), dlT, sp.st)
    tm = _generic.from_time_major
    du = tm(xp, r.du)
    dD = None
    if D is not None:
        du = du + xp.expand_dims(D, axis=-1) * gy
        dD = xp.sum(gy * u, axis=(0, 2))
    dz = None
    if z is not None:
        pre = _finish(xp, tm(xp, r.y), u, D, None)
        dz = dout * pre * sz * (1 + z * (1 - sz))
    ddt, ddtA = tm(xp, r.ddt), tm(xp, r.ddtA)
    if deltaA is None:
        ddt, ddeltaA = ddt + ddtA, None
    else:
        ddeltaA = ddtA
    ddelta, ddelta_bias = _softplus_chain(xp, ddt, raw, delta_softplus, delta_bias)
    dA = _generic.param_unlayout(xp, r.dA)
    dB = _bc_grad(xp, r.dB, B, sp)
    dC = _bc_grad(xp, r.dC, C, sp)
    dh0 = None if r.dh0 is None else _generic.state_unlayout(xp, r.dh0)
    return du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0


def _softplus_chain(xp, ddt, raw, delta_softplus, delta_bias):
    if delta_softplus:
        ddt = ddt * xp.where(raw <= 20, _generic.sigmoid(xp, raw), xp.ones_like(raw))
    return ddt, (None if delta_bias is None else xp.sum(ddt, axis=(0, 2)))


def _bc_grad(xp, g, X, sp):
    """Time-major (L, B, G, N) or (G, N, Dg) gradient back to X's layout."""
    if X.ndim == 2:
        return _generic.param_unlayout(xp, g)
    g = xp.permute_dims(g, (1, 2, 3, 0))
    return xp.reshape(g, tuple(X.shape))


def _package(sp: _Spec, g, originals) -> SelectiveScanGrads:
    """Cast each gradient to its argument's kind (real part for real ones) at compute precision."""
    xp = sp.xp
    out = []
    for gi, x in zip(g, originals):
        if gi is None or x is None:
            out.append(None)
            continue
        gi = xp.asarray(gi) if not hasattr(gi, "__array_namespace__") else gi
        x_cplx = xp.isdtype(x.dtype, "complex floating")
        if xp.isdtype(gi.dtype, "complex floating") and not x_cplx:
            gi = xp.real(gi)
        want = (
            (sp.st if sp.st != sp.rt else _checks.complex_dtype_of(xp, sp.rt)) if x_cplx else sp.rt
        )
        out.append(gi if gi.dtype == want else xp.astype(gi, want))
    return SelectiveScanGrads(*out)
