"""Public S7 scan: s_t = (1 − 1/(A_t² + ½)) s_{t−1} + Σ_h B_t u_t + bias_t, y_t = C_t s_t."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes

__all__ = ["s7_scan", "s7_scan_vjp", "S7ScanGrads"]

# A, B, C and bias are S7's input-dependent parameters (time-varying, projected from the input):
# under check_finite they are value-checked like every op's parameters.
SPEC = OpSpec(
    "s7_scan",
    __package__,
    (Arg("u", "real"), Arg("A", "real", param=True), Arg("B", "real", param=True),
     Arg("C", "real", param=True), Arg("bias", "real", required=False, param=True),
     Arg("h0", "real", required=False)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"},
    supports={"cuda": float_dtypes("float32", "float64")},
)
_COTANGENTS = {"dout": Arg("dout", "real"),
               "dlast_state": Arg("dlast_state", "real", required=False)}


class S7ScanGrads(NamedTuple):
    du: object
    dA: object
    dB: object
    dC: object
    dbias: object
    dh0: object


def _shapes(xp, u, A, B, C, bias, h0, dout=None, dlast_state=None):
    """(batch, H, N, seqlen) and the compute dtype; only shapes are read."""
    _checks.check_ndim("u", u, 3, "(batch, H, seqlen)")
    Bsz, H, L = (int(n) for n in u.shape)
    _checks.check_ndim("A", A, 3, "(batch, N, seqlen)")
    _checks.check_shape("A", A, (Bsz, None, L), "(batch, N, seqlen)")
    N = int(A.shape[1])
    _checks.check_shape("B", B, (Bsz, N, H, L), "(batch, N, H, seqlen)")
    _checks.check_shape("C", C, (Bsz, H, N, L), "(batch, H, N, seqlen)")
    if bias is not None:
        _checks.check_shape("bias", bias, (Bsz, N, L), "(batch, N, seqlen)")
    if h0 is not None:
        _checks.check_shape("h0", h0, (Bsz, N), "(batch, N)")
    if dout is not None:
        _checks.check_shape("dout", dout, (Bsz, H, L), "(batch, H, seqlen) like the output")
    if dlast_state is not None:
        _checks.check_shape("dlast_state", dlast_state, (Bsz, N), "(batch, N)")
    return (Bsz, H, N, L), _checks.result_dtype(xp, u, A, B, C, bias, h0)


def _cast(xp, x, dtype):
    return None if x is None else (x if x.dtype == dtype else xp.astype(x, dtype))


def s7_scan(u, A, B, C, bias=None, return_last_state=False, *, h0=None, impl="auto",
            check_finite=True):
    r"""S7 selective scan with input-dependent, always-stable decay.

    Parameters
    ----------
    u : array, shape (batch, H, seqlen)
        Input. Real floating (complex inputs raise ``TypeError``).
    A : array, shape (batch, N, seqlen)
        Time-varying raw decay parameter :math:`a_t`.
    B : array, shape (batch, N, H, seqlen)
        Time-varying input matrix.
    C : array, shape (batch, H, N, seqlen)
        Time-varying output matrix.
    bias : array, shape (batch, N, seqlen), optional
        Added to :math:`B_t u_t`.
    return_last_state : bool, default False
        Also return the final state.
    h0 : array, shape (batch, N), optional
        Initial state (zero if omitted). Keyword-only addition.
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Whether to check that the parameters ``A``, ``B``, ``C`` and ``bias`` contain only
        finite numbers. Disabling may give a performance gain (the check reads values: a
        device-to-host sync on a GPU), but may result in problems (NaN outputs) if they do
        contain infinities or NaNs. ``u`` and ``h0`` are never value-checked: a NaN there
        propagates forward in time only.

    Returns
    -------
    y : array, shape (batch, H, seqlen)
        In the promoted real dtype of the inputs (float16 computes and returns float32).
    last_state : array, shape (batch, N)
        Only with ``return_last_state=True``; differentiable through ``s7_scan_vjp``.
        ``h0`` (or zeros) when seqlen is 0.

    Notes
    -----
    .. math::
        \bar A_t = 1 - \frac{1}{a_t^2 + 1/2} \in [-1, 1),\quad
        s_t = \bar A_t \odot s_{t-1} + B_t u_t + \text{bias}_t,\quad y_t = C_t s_t.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s7_scan
    >>> u = np.ones((1, 1, 3)); A = np.zeros((1, 1, 3)); B = np.ones((1, 1, 1, 3))
    >>> s7_scan(u, A, B, B)
    array([[[1., 0., 1.]]])
    """
    xp = SPEC.validate({"u": u, "A": A, "B": B, "C": C, "bias": bias, "h0": h0},
                       flags={"return_last_state": return_last_state}, check_finite=check_finite)
    (Bsz, H, N, L), dtype = _shapes(xp, u, A, B, C, bias, h0)
    name = SPEC.resolve(impl, xp, dtype)
    if 0 in (Bsz, H, N, L):
        y = xp.zeros((Bsz, H, L), dtype=dtype)
        last = _cast(xp, h0, dtype) if (L == 0 and h0 is not None) else xp.zeros(
            (Bsz, N), dtype=dtype)
    else:
        y, last = SPEC.get(name, "forward")(
            xp, *(_cast(xp, x, dtype) for x in (u, A, B, C, bias, h0)))
    return (y, last) if return_last_state else y


def s7_scan_vjp(dout, u, A, B, C, bias=None, return_last_state=False, *, h0=None,
                dlast_state=None, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`s7_scan`.

    Parameters
    ----------
    dout : array, shape (batch, H, seqlen)
        Cotangent of ``y``.
    u, A, B, C, bias, return_last_state, h0, impl, check_finite
        As for :func:`s7_scan`.
    dlast_state : array, shape (batch, N), optional
        Cotangent of the final state.

    Returns
    -------
    S7ScanGrads
        ``(du, dA, dB, dC, dbias, dh0)``; ``dbias``/``dh0`` are None without ``bias``/``h0``.

    Notes
    -----
    With :math:`\lambda_t = C_t^\top dout_t + \bar A_{t+1}\lambda_{t+1}`:
    :math:`du_t = B_t^\top\lambda_t`, :math:`dB_t = \lambda_t u_t^\top`,
    :math:`dbias_t = \lambda_t`,
    :math:`dC_t = dout_t s_t^\top`, :math:`dA_t = \lambda_t s_{t-1}\,2a_t/(a_t^2+1/2)^2`,
    :math:`dh_0 = \bar A_0\lambda_0`. :math:`s_{t-1}` comes from the forward states (lrnnx divides
    by :math:`\bar A`, singular at :math:`a_t^2 = 1/2`).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s7_scan, s7_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, A = rng.normal(size=(1, 2, 5)), rng.normal(size=(1, 3, 5))
    >>> B, C = rng.normal(size=(1, 3, 2, 5)), rng.normal(size=(1, 2, 3, 5))
    >>> dout = rng.normal(size=(1, 2, 5))
    >>> g = s7_scan_vjp(dout, u, A, B, C)
    >>> g.du.shape, g.dA.shape, g.dB.shape, g.dC.shape, g.dbias is None
    ((1, 2, 5), (1, 3, 5), (1, 3, 2, 5), (1, 2, 3, 5), True)

    ``y`` is linear in ``u`` (without ``bias`` and ``h0``), so
    ``<dout, s7_scan(v, A, B, C)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> np.allclose(np.sum(dout * s7_scan(v, A, B, C)), np.sum(g.du * v))
    True
    """
    arrays = {"dout": dout, "u": u, "A": A, "B": B, "C": C, "bias": bias, "h0": h0,
              "dlast_state": dlast_state}
    xp = SPEC.validate(arrays, flags={"return_last_state": return_last_state},
                       check_finite=check_finite, extra=_COTANGENTS)
    (Bsz, H, N, L), dtype = _shapes(xp, u, A, B, C, bias, h0, dout, dlast_state)
    name = SPEC.resolve(impl, xp, dtype)
    if 0 in (Bsz, H, N, L):
        # Nothing to scan: zero gradients; with no steps the last state is h0 itself.
        def zeros(x):
            return None if x is None else xp.zeros(tuple(x.shape), dtype=dtype)

        dh0 = zeros(h0)
        if h0 is not None and L == 0 and dlast_state is not None:
            dh0 = _cast(xp, dlast_state, dtype)
        return S7ScanGrads(zeros(u), zeros(A), zeros(B), zeros(C), zeros(bias), dh0)
    g = SPEC.get(name, "backward")(
        xp, *(_cast(xp, x, dtype) for x in (dout, u, A, B, C, bias, h0, dlast_state)))
    return S7ScanGrads(*g)
