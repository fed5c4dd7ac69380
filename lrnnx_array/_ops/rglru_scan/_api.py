"""Public RG-LRU scan: h_t = A^{δ_t} ⊙ h_{t-1} + √(1 − A^{2δ_t}) ⊙ u_t, y_t = Σ_n h_t."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes

__all__ = ["rglru_scan", "rglru_scan_vjp", "RGLRUScanGrads"]

_MAX_CUDA_N = 256  # the kernel keeps one running state per n in shared memory

SPEC = OpSpec(
    "rglru_scan",
    __package__,
    (Arg("u", "real"), Arg("delta", "real"), Arg("A", "real", param=True),
     Arg("h0", "real", required=False)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"},
    supports={"cuda": float_dtypes("float32", "float64")},
)
_COTANGENTS = {"dout": Arg("dout", "real"),
               "dlast_state": Arg("dlast_state", "real", required=False)}


class RGLRUScanGrads(NamedTuple):
    du: object
    ddelta: object
    dA: object
    dh0: object


def _shapes(xp, u, delta, A, h0, dout=None, dlast_state=None):
    """(batch, dim, d_state, seqlen) and the compute dtype; only shapes are read."""
    _checks.check_ndim("u", u, 3, "(batch, dim, seqlen)")
    Bsz, D, L = (int(n) for n in u.shape)
    _checks.check_shape("delta", delta, (Bsz, D, L), "(batch, dim, seqlen) like u")
    _checks.check_ndim("A", A, 2, "(dim, d_state)")
    _checks.check_shape("A", A, (D, None), "(dim, d_state) with dim = u.shape[1]")
    N = int(A.shape[1])
    if h0 is not None:
        _checks.check_shape("h0", h0, (Bsz, D, N), "(batch, dim, d_state)")
    if dout is not None:
        _checks.check_shape("dout", dout, (Bsz, D, L), "(batch, dim, seqlen) like the output")
    if dlast_state is not None:
        _checks.check_shape("dlast_state", dlast_state, (Bsz, D, N), "(batch, dim, d_state)")
    return (Bsz, D, N, L), _checks.result_dtype(xp, u, delta, A, h0)


def _check_values(xp, A, check_finite):
    """A in (0, 1] (A^delta = exp(delta log A)); reads values, so only under check_finite."""
    if check_finite and not bool(xp.all((A > 0) & (A <= 1))):
        raise ValueError(
            "A must lie in (0, 1] (A^delta is computed as exp(delta * log A)), got entries "
            f"with min {float(xp.min(A))} and max {float(xp.max(A))} (pass check_finite=False "
            "to skip this check)"
        )


def _resolve(impl, xp, dtype, N, what):
    name = SPEC.resolve(impl, xp, dtype)
    if name == "cuda" and N > _MAX_CUDA_N:
        if impl == "cuda":
            raise ValueError(f"impl='cuda' cannot serve {what} (the kernel supports d_state <= "
                             f"{_MAX_CUDA_N}, got {N}); use impl='generic'")
        name = "generic"
    return name


def _cast(xp, x, dtype):
    return None if x is None else (x if x.dtype == dtype else xp.astype(x, dtype))


def rglru_scan(u, delta, A, return_last_state=False, *, h0=None, impl="auto", check_finite=True):
    r"""RG-LRU (Griffin) diagonal scan with gate-controlled decay.

    Parameters
    ----------
    u : array, shape (batch, dim, seqlen)
        Gated input :math:`i_t \odot x_t`. Real floating.
    delta : array, shape (batch, dim, seqlen)
        Decay exponent :math:`\delta_t = c\, r_t` (lrnnx: c = 8, r the recurrence gate).
    A : array, shape (dim, d_state)
        Base decay :math:`a \in (0, 1]` (lrnnx's RG-LRU uses d_state = 1).
    return_last_state : bool, default False
        Also return the final state.
    h0 : array, shape (batch, dim, d_state), optional
        Initial state (zero if omitted). Keyword-only addition.
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Whether to check that the parameter ``A`` is finite and lies in (0, 1]. Disabling may
        give a performance gain (the check reads values: a device-to-host sync on a GPU), but
        may result in problems (NaN or wrong outputs) if ``A`` violates it. Inputs and states
        are never value-checked: a NaN there propagates forward in time only.

    Returns
    -------
    y : array, shape (batch, dim, seqlen)
        :math:`y_t = \sum_n h_{t,n}`, in the promoted real dtype of the inputs (float16
        computes and returns float32).
    last_state : array, shape (batch, dim, d_state)
        Only with ``return_last_state=True``; differentiable through ``rglru_scan_vjp``.
        ``h0`` (or zeros) when seqlen is 0.

    Notes
    -----
    .. math::
        \bar A_t = A^{\delta_t} = e^{\delta_t \ln A},\quad
        h_t = \bar A_t \odot h_{t-1} + \sqrt{1-\bar A_t^2}\odot u_t,\quad h_{-1} = h_0.

    :math:`\sqrt{1-\bar A^2}` is evaluated as :math:`\sqrt{-\operatorname{expm1}(2\delta\ln A)}`,
    accurate as :math:`\delta \to 0` or :math:`A \to 1`. For :math:`\delta < 0` the input term
    is clamped to 0 (lrnnx yields NaN there); ``A`` outside (0, 1] raises ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import rglru_scan
    >>> u = np.ones((1, 1, 3)); delta = np.ones((1, 1, 3)); A = np.full((1, 1), 0.6)
    >>> rglru_scan(u, delta, A)
    array([[[0.8  , 1.28 , 1.568]]])
    """
    xp = SPEC.validate({"u": u, "delta": delta, "A": A, "h0": h0},
                       flags={"return_last_state": return_last_state}, check_finite=check_finite)
    (Bsz, D, N, L), dtype = _shapes(xp, u, delta, A, h0)
    _check_values(xp, A, check_finite)
    name = _resolve(impl, xp, dtype, N, "rglru_scan")
    if 0 in (Bsz, D, N, L):
        y = xp.zeros((Bsz, D, L), dtype=dtype)
        last = _cast(xp, h0, dtype) if (L == 0 and h0 is not None) else xp.zeros(
            (Bsz, D, N), dtype=dtype)
    else:
        y, last = SPEC.get(name, "forward")(
            xp, *(_cast(xp, x, dtype) for x in (u, delta, A, h0)))
    return (y, last) if return_last_state else y


def rglru_scan_vjp(dout, u, delta, A, return_last_state=False, *, h0=None, dlast_state=None,
                   impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`rglru_scan`.

    Parameters
    ----------
    dout : array, shape (batch, dim, seqlen)
        Cotangent of ``y``.
    u, delta, A, return_last_state, h0, impl, check_finite
        As for :func:`rglru_scan` (``return_last_state`` is accepted for signature parity).
    dlast_state : array, shape (batch, dim, d_state), optional
        Cotangent of the final state.

    Returns
    -------
    RGLRUScanGrads
        ``(du, ddelta, dA, dh0)``; ``dh0`` is None without ``h0``.

    Notes
    -----
    With the adjoint :math:`\lambda_t = dout_t + \bar A_{t+1}\lambda_{t+1}` and
    :math:`x = \delta \ln A`: :math:`du_t = \sum_n \beta_t\lambda_t`,
    :math:`dx = \lambda_t(\bar A_t h_{t-1} - u_t \bar A_t^2/\beta_t)`,
    :math:`d\delta_t = \sum_n dx \ln A`, :math:`dA = \sum_{b,t} dx\,\delta_t / A`,
    :math:`dh_0 = \bar A_0 \lambda_0`; :math:`h_{t-1}` is read from the forward states, never
    recovered by dividing by :math:`\bar A` (lrnnx's form is singular at small β). Where
    :math:`\beta = 0` (δ ≤ 0 or A = 1) the square root is not differentiable and its term is
    taken as 0 (lrnnx's kernel zeroes the whole gradient for δ ≤ 0; the Ā term here stays exact).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import rglru_scan, rglru_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, delta = rng.normal(size=(1, 2, 5)), rng.uniform(0, 2, (1, 2, 5))
    >>> A = rng.uniform(0.5, 1, (2, 1))
    >>> dout = rng.normal(size=(1, 2, 5))
    >>> g = rglru_scan_vjp(dout, u, delta, A)
    >>> g.du.shape, g.ddelta.shape, g.dA.shape, g.dh0 is None
    ((1, 2, 5), (1, 2, 5), (2, 1), True)

    ``y`` is linear in ``u`` (without ``h0``), so ``<dout, rglru_scan(v, ...)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> np.allclose(np.sum(dout * rglru_scan(v, delta, A)), np.sum(g.du * v))
    True
    """
    arrays = {"dout": dout, "u": u, "delta": delta, "A": A, "h0": h0, "dlast_state": dlast_state}
    xp = SPEC.validate(arrays, flags={"return_last_state": return_last_state},
                       check_finite=check_finite, extra=_COTANGENTS)
    (Bsz, D, N, L), dtype = _shapes(xp, u, delta, A, h0, dout, dlast_state)
    _check_values(xp, A, check_finite)
    name = _resolve(impl, xp, dtype, N, "rglru_scan_vjp")
    if 0 in (Bsz, D, N, L):
        # No steps (or nothing to scan): the last state is h0 itself, its cotangent passes.
        zero = xp.zeros((Bsz, D, L), dtype=dtype)
        dh0 = None
        if h0 is not None:
            dh0 = _cast(xp, dlast_state, dtype) if (L == 0 and dlast_state is not None) else (
                xp.zeros((Bsz, D, N), dtype=dtype))
        return RGLRUScanGrads(zero, xp.zeros((Bsz, D, L), dtype=dtype),
                              xp.zeros((D, N), dtype=dtype), dh0)
    g = SPEC.get(name, "backward")(
        xp, *(_cast(xp, x, dtype) for x in (dout, u, delta, A, h0, dlast_state)))
    return RGLRUScanGrads(*g)
