"""NumPy float64 oracle of the depthwise causal convolution: explicit loops over time and taps.

With x extended to the left by the K-1 initial values (zeros by default),
``pre[b, d, t] = bias[d] + sum_k weight[d, k] * x_ext[b, d, t + k]`` and
``out = silu(pre)`` or ``pre``; the final state is the last K-1 values of x_ext.
"""

from __future__ import annotations

import numpy as np


def _extend(x, init, K):
    B, D, _ = x.shape
    left = np.zeros((B, D, K - 1)) if init is None else np.asarray(init, np.float64)
    return np.concatenate([left, np.asarray(x, np.float64)], axis=-1)


def _sigmoid(v):
    # exp(-|v|) never overflows; both branches are exact forms of the logistic.
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def causal_conv1d_ref(x, weight, bias=None, activation=None, initial_states=None):
    """(out, final_states) in float64; x (B, D, L), weight (D, K), initial_states (B, D, K-1)."""
    w = np.asarray(weight, np.float64)
    K = w.shape[1]
    xe = _extend(x, initial_states, K)
    B, D, L = np.shape(x)
    pre = np.zeros((B, D, L))
    for t in range(L):
        acc = np.zeros((B, D)) if bias is None else np.broadcast_to(
            np.asarray(bias, np.float64), (B, D)).copy()
        for k in range(K):
            acc += w[:, k] * xe[:, :, t + k]
        pre[:, :, t] = acc
    out = pre * _sigmoid(pre) if activation == "silu" else pre
    return out, xe[:, :, L:].copy()


def causal_conv1d_vjp_ref(dout, x, weight, bias=None, activation=None, initial_states=None,
                          dfinal_states=None):
    """(dx, dweight, dbias, dinitial_states) by the transposed loops of the forward."""
    w = np.asarray(weight, np.float64)
    K = w.shape[1]
    xe = _extend(x, initial_states, K)
    B, D, L = np.shape(x)
    pre = np.zeros((B, D, L))
    for t in range(L):
        pre[:, :, t] = sum(w[:, k] * xe[:, :, t + k] for k in range(K))
    if bias is not None:
        pre += np.asarray(bias, np.float64)[:, None]
    g = np.asarray(dout, np.float64)
    if activation == "silu":
        s = _sigmoid(pre)
        g = g * s * (1.0 + pre * (1.0 - s))
    dxe = np.zeros_like(xe)
    dw = np.zeros_like(w)
    for t in range(L):
        for k in range(K):
            dxe[:, :, t + k] += w[:, k] * g[:, :, t]
            dw[:, k] += np.sum(g[:, :, t] * xe[:, :, t + k], axis=0)
    if dfinal_states is not None:
        dxe[:, :, L:] += np.asarray(dfinal_states, np.float64)
    dbias = None if bias is None else np.sum(g, axis=(0, 2))
    dinit = None if initial_states is None else dxe[:, :, : K - 1]
    return dxe[:, :, K - 1:], dw, dbias, dinit


def causal_conv1d_update_ref(x, conv_state, weight, bias=None, activation=None):
    """(out (B, D, T), new_state) for T tokens on a (B, D, S) rolling state, S >= K-1."""
    w = np.asarray(weight, np.float64)
    K = w.shape[1]
    state = np.asarray(conv_state, np.float64).copy()
    B, D, T = np.shape(x)
    out = np.zeros((B, D, T))
    for t in range(T):
        window = np.concatenate([state, np.asarray(x, np.float64)[:, :, t:t + 1]], axis=-1)
        pre = np.sum(window[:, :, -K:] * w, axis=-1)
        if bias is not None:
            pre = pre + np.asarray(bias, np.float64)
        out[:, :, t] = pre * _sigmoid(pre) if activation == "silu" else pre
        state = window[:, :, 1:]
    return out, state


# The dispatch entries: canonical arrays in the compute dtype in, that dtype out.


def forward(xp, x, weight, bias, initial_states, *, activation):
    out, final = causal_conv1d_ref(x, weight, bias, activation, initial_states)
    return xp.asarray(out, dtype=x.dtype), xp.asarray(final, dtype=x.dtype)


def backward(xp, dout, x, weight, bias, initial_states, dfinal, *, activation):
    grads = causal_conv1d_vjp_ref(dout, x, weight, bias, activation, initial_states, dfinal)
    return tuple(None if g is None else xp.asarray(g, dtype=x.dtype) for g in grads)


def update(xp, x, conv_state, weight, bias, *, activation):
    out, state = causal_conv1d_update_ref(x, conv_state, weight, bias, activation)
    return xp.asarray(out, dtype=x.dtype), xp.asarray(state, dtype=x.dtype)
