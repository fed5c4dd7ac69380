"""Public depthwise causal convolution (x (B, D, L), weight (D, K)), its VJP and its decode step.

Names and layouts are those of the causal-conv1d package that lrnnx's Mamba and RG-LRU call
(``causal_conv1d_fn`` / ``causal_conv1d_update``): channels-first input, the depthwise weight
squeezed to (dim, width), ``activation`` None or ``"silu"`` (``"swish"`` is its alias).
"""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec
from .._shared.grads import grad_like

__all__ = ["causal_conv1d", "causal_conv1d_vjp", "causal_conv1d_update", "CausalConv1dGrads"]

SPEC = OpSpec(
    "causal_conv1d",
    __package__,
    (
        Arg("x", "real"),
        Arg("weight", "real", param=True),
        Arg("bias", "real", required=False, param=True),
        Arg("initial_states", "real", required=False),
    ),
    impls={"reference": "_ref", "generic": "_generic"},
)
UPDATE_SPEC = OpSpec(
    "causal_conv1d_update",
    __package__,
    (
        Arg("x", "real"),
        Arg("conv_state", "real"),
        Arg("weight", "real", param=True),
        Arg("bias", "real", required=False, param=True),
    ),
    impls={"reference": "_ref", "generic": "_generic"},
)
_COTANGENTS = {"dout": Arg("dout", "real"),
               "dfinal_states": Arg("dfinal_states", "real", required=False)}
ACTIVATIONS = (None, "silu", "swish")


class CausalConv1dGrads(NamedTuple):
    dx: object
    dweight: object
    dbias: object
    dinitial_states: object


def _activation(activation):
    if activation is not None and (not isinstance(activation, str)
                                   or activation not in ACTIVATIONS):
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return None if activation is None else "silu"


def _check_weight(weight, D, x_name="x"):
    if weight.ndim == 3 and int(weight.shape[1]) == 1:
        raise ValueError(
            f"weight must have shape (dim, width), got {tuple(weight.shape)}: squeeze a "
            "Conv1d weight (dim, 1, width) to (dim, width)"
        )
    _checks.check_ndim("weight", weight, 2, "(dim, width)")
    if int(weight.shape[0]) != D:
        raise ValueError(
            f"weight must have shape (dim, width) with dim = {x_name}.shape[1] = {D}, "
            f"got {tuple(weight.shape)}"
        )
    K = int(weight.shape[1])
    if K < 1:
        raise ValueError(f"weight width (its last dimension) must be >= 1, got {K}")
    return K


def _shapes(xp, x, weight, bias, initial_states, dout=None, dfinal=None):
    """(K, compute dtype); only shapes are read."""
    _checks.check_ndim("x", x, 3, "(batch, dim, seqlen)")
    Bsz, D, L = (int(n) for n in x.shape)
    if weight.ndim == 2 and int(weight.shape[0]) != D and int(weight.shape[0]) == L:
        raise ValueError(
            f"x must have layout (batch, dim, seqlen), got shape {tuple(x.shape)} with weight "
            f"{tuple(weight.shape)}: x looks like (batch, seqlen, dim); transpose its last two axes"
        )
    K = _check_weight(weight, D)
    if bias is not None:
        _checks.check_shape("bias", bias, (D,), "(dim,)")
    if initial_states is not None:
        _checks.check_shape("initial_states", initial_states, (Bsz, D, K - 1),
                            "(batch, dim, width - 1)")
    if dout is not None:
        _checks.check_shape("dout", dout, (Bsz, D, L), "(batch, dim, seqlen) like the output")
    if dfinal is not None:
        _checks.check_shape("dfinal_states", dfinal, (Bsz, D, K - 1), "(batch, dim, width - 1)")
    return K, _checks.result_dtype(xp, x, weight, bias, initial_states)


def _c(xp, v, dtype):
    if v is None:
        return None
    return v if v.dtype == dtype else xp.astype(v, dtype)


def causal_conv1d(x, weight, bias=None, activation=None, *, initial_states=None,
                  return_final_states=False, impl="auto", check_finite=True):
    r"""Depthwise causal convolution along time, optionally followed by SiLU.

    Parameters
    ----------
    x : array, shape (batch, dim, seqlen)
        Input, channels first (real floating).
    weight : array, shape (dim, width)
        One filter per channel (a ``Conv1d(dim, dim, width, groups=dim)`` weight squeezed).
    bias : array, shape (dim,), optional
    activation : {None, "silu", "swish"}, optional
        ``"silu"`` (alias ``"swish"``) applies :math:`v\sigma(v)` to the result.
    initial_states : array, shape (batch, dim, width - 1), optional
        The inputs before time 0 (zero if omitted), oldest first.
    return_final_states : bool, default False
        Also return the last ``width - 1`` inputs (the ``initial_states`` of a continuation).
    impl : {"auto", "generic", "reference"}
        There is no CUDA kernel; ``auto`` runs the array-API path on every backend.
    check_finite : bool, default True
        Check that ``weight`` and ``bias`` hold no NaN or inf (a host sync on GPU); as in
        SciPy, pass False to skip the check when the values are known good.

    Returns
    -------
    out : array, shape (batch, dim, seqlen)
    final_states : array, shape (batch, dim, width - 1)
        Only with ``return_final_states``.

    Notes
    -----
    With :math:`\tilde x` the input extended on the left by ``initial_states`` and K the width:

    .. math:: \mathrm{out}_{b,d,t} = \mathrm{act}\Big(\mathrm{bias}_d
        + \sum_{k=0}^{K-1} w_{d,k}\, \tilde x_{b,d,t-K+1+k}\Big)

    i.e. PyTorch's ``conv1d(x, w[:, None], bias, padding=K-1, groups=dim)[..., :seqlen]``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import causal_conv1d
    >>> x = np.arange(1.0, 5.0).reshape(1, 1, 4)
    >>> causal_conv1d(x, np.array([[1.0, 10.0]]))
    array([[[10., 21., 32., 43.]]])
    """
    act = _activation(activation)
    xp = SPEC.validate({"x": x, "weight": weight, "bias": bias, "initial_states": initial_states},
                       flags={"return_final_states": return_final_states},
                       check_finite=check_finite)
    K, dtype = _shapes(xp, x, weight, bias, initial_states)
    name = SPEC.resolve(impl, xp, dtype)
    out, final = SPEC.get(name, "forward")(
        xp, _c(xp, x, dtype), _c(xp, weight, dtype), _c(xp, bias, dtype),
        _c(xp, initial_states, dtype), activation=act,
    )
    return (out, final) if return_final_states else out


def causal_conv1d_vjp(dout, x, weight, bias=None, activation=None, *, initial_states=None,
                      dfinal_states=None, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`causal_conv1d`.

    Parameters
    ----------
    dout : array, shape (batch, dim, seqlen)
        Cotangent of ``out``.
    x, weight, bias, activation, initial_states, impl, check_finite
        As for :func:`causal_conv1d`.
    dfinal_states : array, shape (batch, dim, width - 1), optional
        Cotangent of ``final_states``.

    Returns
    -------
    CausalConv1dGrads
        ``(dx, dweight, dbias, dinitial_states)`` shaped like the inputs (None where the input
        is None).

    Notes
    -----
    With :math:`g` = ``dout`` times :math:`\mathrm{silu}'` of the pre-activation (or ``dout``):
    :math:`d\tilde x_{t-K+1+k} \mathrel{+}= w_{d,k} g_t`, :math:`dw_{d,k} = \sum_{b,t} g_t
    \tilde x_{t-K+1+k}`, :math:`d\mathrm{bias}_d = \sum_{b,t} g_t`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import causal_conv1d_vjp
    >>> x = np.arange(1.0, 5.0).reshape(1, 1, 4)
    >>> g = causal_conv1d_vjp(np.ones((1, 1, 4)), x, np.array([[1.0, 10.0]]))
    >>> g.dx, g.dweight
    (array([[[11., 11., 11., 10.]]]), array([[ 6., 10.]]))
    """
    act = _activation(activation)
    arrays = {"dout": dout, "x": x, "weight": weight, "bias": bias,
              "initial_states": initial_states, "dfinal_states": dfinal_states}
    xp = SPEC.validate(arrays, check_finite=check_finite, extra=_COTANGENTS)
    K, dtype = _shapes(xp, x, weight, bias, initial_states, dout, dfinal_states)
    name = SPEC.resolve(impl, xp, dtype)
    dx, dw, db, dinit = SPEC.get(name, "backward")(
        xp, _c(xp, dout, dtype), _c(xp, x, dtype), _c(xp, weight, dtype), _c(xp, bias, dtype),
        _c(xp, initial_states, dtype), _c(xp, dfinal_states, dtype), activation=act,
    )
    return CausalConv1dGrads(grad_like(xp, dx, x), grad_like(xp, dw, weight),
                             grad_like(xp, db, bias), grad_like(xp, dinit, initial_states))


def causal_conv1d_update(x, conv_state, weight, bias=None, activation=None, *, impl="auto",
                         check_finite=True):
    r"""Decode step(s) of :func:`causal_conv1d` on a rolling state, updated in place.

    Parameters
    ----------
    x : array, shape (batch, dim) or (batch, dim, seqlen)
        The new input(s).
    conv_state : array, shape (batch, dim, state_len), state_len >= width - 1
        The last ``state_len`` inputs, oldest first; overwritten with the state after ``x``
        (shifted left by one per token, the new input at the end). Left untouched when the call
        raises. lrnnx's models keep ``state_len = width``.
    weight, bias, activation, impl, check_finite
        As for :func:`causal_conv1d`.

    Returns
    -------
    out : array, shape of x

    Notes
    -----
    Iterating it over a sequence from a zero state equals :func:`causal_conv1d`; from a state
    whose last ``width - 1`` entries are ``s`` it equals ``causal_conv1d(..., initial_states=s)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import causal_conv1d_update
    >>> state = np.zeros((1, 1, 2)); w = np.array([[1.0, 10.0]])
    >>> (causal_conv1d_update(np.array([[1.0]]), state, w),
    ...  causal_conv1d_update(np.array([[2.0]]), state, w))
    (array([[10.]]), array([[21.]]))
    >>> state
    array([[[1., 2.]]])
    """
    act = _activation(activation)
    xp = UPDATE_SPEC.validate({"x": x, "conv_state": conv_state, "weight": weight, "bias": bias},
                              check_finite=check_finite)
    _checks.check_ndim("x", x, (2, 3), "(batch, dim) or (batch, dim, seqlen)")
    _checks.check_ndim("conv_state", conv_state, 3, "(batch, dim, state_len)")
    Bsz, D = int(x.shape[0]), int(x.shape[1])
    K = _check_weight(weight, D)
    if tuple(int(n) for n in conv_state.shape[:2]) != (Bsz, D):
        raise ValueError(
            f"conv_state must have shape (batch, dim, state_len) = ({Bsz}, {D}, >= {K - 1}) "
            f"like x, got {tuple(conv_state.shape)}"
        )
    if int(conv_state.shape[2]) < K - 1:
        raise ValueError(
            f"conv_state must hold at least width - 1 = {K - 1} inputs (its last dimension), "
            f"got {tuple(conv_state.shape)}"
        )
    if bias is not None:
        _checks.check_shape("bias", bias, (D,), "(dim,)")
    dtype = _checks.result_dtype(xp, x, conv_state, weight, bias)
    name = UPDATE_SPEC.resolve(impl, xp, dtype)
    x3 = x if x.ndim == 3 else x[:, :, None]
    out, new_state = UPDATE_SPEC.get(name, "update")(
        xp, _c(xp, x3, dtype), _c(xp, conv_state, dtype), _c(xp, weight, dtype),
        _c(xp, bias, dtype), activation=act,
    )
    # Everything above is computed before this one write: an error leaves the state as it was.
    conv_state[...] = _c(xp, new_state, conv_state.dtype)
    return out if x.ndim == 3 else out[:, :, 0]
