"""Public selective scan (S6/Mamba) with lrnnx's six discretizations, and its VJP."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import _checks
from ..._dispatch import Arg, OpSpec, check_finite_array, float_dtypes
from .._shared.grads import grad_like

__all__ = ["selective_scan", "selective_scan_vjp", "SelectiveScanGrads"]

METHODS = ("mamba", "zoh", "bilinear", "dirac", "s7", "rglru")
_REAL_ONLY = ("s7", "rglru")

_NUMBA_REAL_MAX_ROWS = 32  # batch*dim below which auto takes numba for real A, any method
# vectorised tiles: numba at every row count
_NUMBA_ANY_ROWS = ("mamba", "dirac", "zoh", "bilinear")


def _numba_slower(xp, dtype, *, state_dtype, rows, method):
    """``auto_skip`` for numba: real A with many rows and a method whose tiles are not
    vectorised (s7, rglru; mamba, dirac, zoh and bilinear take numba at any size).

    Measured (issue 13, 2 cores, float32, variable B/C, fwd/VJP ms numba vs generic): complex A
    2-5x faster on numba. Real A, quiet machine: mamba faster at every size tried (B1 D256 L1024
    N16 9.8/38 vs 10.5/50; B2 D256 +z 20/79 vs 28/114; B8 D512 L256 +z 40/155 vs 52/176); zoh
    with deltaA, z, N=64 at B2 D128 forward 89 vs 81 (VJP 325 vs 440); few long rows
    (batch*dim < 32) numba for every method (1x65536 N16 6.1/25 vs 63/197, 16x4096 4.9/19 vs
    6.2/22). (An earlier measurement on a loaded machine had real A 1.5-2x slower on numba: idle
    OpenMP workers spinning, since capped by numba_support's GOMP_SPINCOUNT.) ``impl="numba"``
    runs it for real A at any size. Since zoh's VJP partials are vectorised (third session,
    interleaved min of 15, load ~2.5, fwd/VJP ms numba vs generic): zoh B2 D128 N64 +z +deltaA
    62/166 vs 87/449, B1 D256 N16 13/45 vs 20/100, B2 D32 N16 +z 3.4/12.5 vs 6.9/31; B1 D256
    N16 dirac 12/32 vs 12/71, bilinear 22/82 vs 17/95 (its forward still slower on numba).
    Since bilinear's tiles are vectorised (sixth session, ``_numba_disc``; Zen 4, B2 D256 L1024
    N16 +z, fwd/VJP ms numba vs generic): 11.3/44.8 vs 30.2/123 (load 1.2), so bilinear takes
    numba at every size too.
    """
    if (not xp.isdtype(state_dtype, "complex floating") and rows >= _NUMBA_REAL_MAX_ROWS
            and method not in _NUMBA_ANY_ROWS):
        return "real A at this size: generic measured faster"
    return None


# Constant (2-D) B and C are parameters too; they are value-checked by hand (variable ones are
# activations), see _check_values.
SPEC = OpSpec(
    "selective_scan",
    __package__,
    (Arg("u", "real"), Arg("delta", "real"), Arg("A", param=True), Arg("B"), Arg("C"),
     Arg("D", "real", required=False, param=True), Arg("z", "real", required=False),
     Arg("delta_bias", "real", required=False, param=True),
     Arg("deltaA", "real", required=False), Arg("h0", required=False)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"},
    supports={"cuda": float_dtypes("float32", "float64")},  # the real compute dtype
    options={"discretization": METHODS},
    auto_skip={"numba": _numba_slower},
)


def _rows(a):
    """batch * dim: the row count the numba rule looks at."""
    return int(a["u"].shape[0]) * int(a["u"].shape[1])


_COTANGENTS = {"dout": Arg("dout", "real"), "dlast_state": Arg("dlast_state", required=False)}
_ARGS = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "deltaA", "h0")


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


_ORDER_HINT = (
    "lrnnx's selective_scan_fn takes deltaA before delta_softplus; here deltaA comes after "
    "discretization, so pass it by keyword (deltaA=...)"
)


def _check_softplus_flag(delta_softplus):
    # Checked before the generic flag rule, to say what an array here usually means.
    if not isinstance(delta_softplus, (bool, np.bool_)):
        raise TypeError(f"delta_softplus must be a bool, got {type(delta_softplus).__name__}; "
                        f"{_ORDER_HINT}")


def _shapes(xp, a, method, dout=None, dlast_state=None):
    """Shape and kind rules of the op; returns (real compute dtype, state dtype).

    ``a`` maps argument names to values; only shapes and dtypes are read.
    """
    u, A = a["u"], a["A"]
    _checks.check_ndim("u", u, 3, "(batch, dim, seqlen)")
    Bsz, Dm, L = (int(s) for s in u.shape)
    _checks.check_shape("delta", a["delta"], (Bsz, Dm, L), "like u")
    _checks.check_ndim("A", A, 2, "(dim, dstate)")
    _checks.check_shape("A", A, (Dm, None), "(dim, dstate) with dim = u.shape[1]")
    N = int(A.shape[1])
    cplx = xp.isdtype(A.dtype, "complex floating")
    if method in _REAL_ONLY and cplx:
        raise TypeError(f"discretization={method!r} needs a real A, got A with dtype {A.dtype}")
    var_groups = []  # group count of each variable B/C; they must agree (3-D counts as 1)
    for name in ("B", "C"):
        X = a[name]
        if X.ndim == 2:
            _checks.check_shape(name, X, (Dm, N), "(dim, dstate) when constant")
        elif X.ndim in (3, 4):
            hint = (" (complex variable B/C are complex arrays here, not lrnnx's interleaved "
                    "re/im floats of length 2L)" if cplx else "")
            lead = (Bsz,) if X.ndim == 3 else (Bsz, None)
            _checks.check_shape(
                name, X, lead + (N, L),
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
    state = (Bsz, Dm, N)
    for name, x, shape in (("D", a["D"], (Dm,)), ("delta_bias", a["delta_bias"], (Dm,)),
                           ("z", a["z"], (Bsz, Dm, L)), ("deltaA", a["deltaA"], (Bsz, Dm, L)),
                           ("h0", a["h0"], state), ("dout", dout, (Bsz, Dm, L)),
                           ("dlast_state", dlast_state, state)):
        if x is not None:
            _checks.check_shape(name, x, shape)
    if not cplx:
        for name, x in (("h0", a["h0"]), ("dlast_state", dlast_state)):
            if x is not None and xp.isdtype(x.dtype, "complex floating"):
                raise TypeError(f"{name} is complex ({x.dtype}) but A is real ({A.dtype})")
    ct = _checks.result_dtype(xp, *(x for x in (*a.values(), dout, dlast_state)
                                    if x is not None))
    rt = _checks.real_dtype_of(xp, ct)
    return rt, (_checks.complex_dtype_of(xp, rt) if cplx else rt)


def _check_values(xp, a, method, check_finite):
    """Constant B/C finite, rglru's A > 0 (they read values: only under check_finite)."""
    if not check_finite:
        return
    for name in ("B", "C"):
        if a[name].ndim == 2:
            check_finite_array(xp, name, a[name])
    if method == "rglru" and not bool(xp.all(a["A"] > 0)):
        raise ValueError("discretization='rglru' needs A > 0 (Ā = A**Δ), got entries <= 0")


def _canonical(xp, a, rt, st):
    """The arguments in the compute dtypes: real ones in rt; A, B, C, h0 in the state dtype."""
    out = []
    for name in _ARGS:
        x = a[name]
        dt = st if name in ("A", "B", "C", "h0") else rt
        out.append(x if x is None or x.dtype == dt else xp.astype(x, dt))
    return out


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
    check_finite=True,
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
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Whether to check that the parameters (``A``, ``D``, ``delta_bias`` and constant ``B``
        / ``C``) contain only finite numbers, and that rglru's ``A`` is positive. Disabling may
        give a performance gain (the checks read values: a device-to-host sync on a GPU), but
        may result in problems (NaN outputs) if they do contain infinities or NaNs. Inputs,
        variable B/C and states are never value-checked: a NaN there propagates forward in
        time only.

    Returns
    -------
    out : array, shape (batch, dim, seqlen)
        Real, at the inputs' promoted precision (float16 computes and returns float32).
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
    γ = sqrt(1 − Ā²), evaluated as sqrt(−expm1(2Δᴬ ln A)) (accurate as Δᴬ → 0 or A → 1; 0 for
    Δᴬ < 0). h_{-1} = h0. Zero-size dimensions give empty outputs (seqlen 0: the last state is
    h0, or zeros).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import selective_scan
    >>> u = np.ones((1, 1, 3)); dt = np.full((1, 1, 3), 0.5)
    >>> A = np.array([[-1.0]]); B = C = np.ones((1, 1))
    >>> np.round(selective_scan(u, dt, A, B, C), 4)
    array([[[0.5   , 0.8033, 0.9872]]])
    """
    _check_softplus_flag(delta_softplus)
    a = dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias, deltaA=deltaA,
             h0=h0)
    xp = SPEC.validate(a, flags={"return_last_state": return_last_state},
                       options={"discretization": discretization}, check_finite=check_finite)
    rt, st = _shapes(xp, a, discretization)
    _check_values(xp, a, discretization, check_finite)
    name = SPEC.resolve(impl, xp, rt, state_dtype=st, rows=_rows(a), method=discretization)
    out, last = SPEC.get(name, "forward")(
        xp, *_canonical(xp, a, rt, st), softplus=bool(delta_softplus), method=discretization
    )
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
    check_finite=True,
):
    r"""Vector-Jacobian product of :func:`selective_scan`.

    Parameters
    ----------
    dout : array, shape (batch, dim, seqlen)
        Cotangent of ``out``.
    u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, discretization
        As for :func:`selective_scan` (``return_last_state`` is accepted for symmetry).
    deltaA, h0, impl, check_finite
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
    _check_softplus_flag(delta_softplus)
    a = dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias, deltaA=deltaA,
             h0=h0)
    xp = SPEC.validate({"dout": dout, **a, "dlast_state": dlast_state},
                       flags={"return_last_state": return_last_state},
                       options={"discretization": discretization}, check_finite=check_finite,
                       extra=_COTANGENTS)
    rt, st = _shapes(xp, a, discretization, dout, dlast_state)
    _check_values(xp, a, discretization, check_finite)
    name = SPEC.resolve(impl, xp, rt, state_dtype=st, rows=_rows(a), method=discretization)
    g = SPEC.get(name, "backward")(
        xp, dout if dout.dtype == rt else xp.astype(dout, rt), *_canonical(xp, a, rt, st),
        dlast_state if dlast_state is None or dlast_state.dtype == st else (
            xp.astype(dlast_state, st)),
        softplus=bool(delta_softplus), method=discretization,
    )
    # Each gradient in its argument's kind (the real part for a real one) at compute precision.
    return SelectiveScanGrads(*(grad_like(xp, gi, a[n]) for gi, n in zip(g, _ARGS)))
