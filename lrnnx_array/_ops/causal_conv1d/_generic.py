"""Array-API causal depthwise convolution: one fused multiply-add per tap (K is small, 2-4).

The taps loop runs K times over (B, D, L) slices of the left-extended input, so the cost is K
elementwise passes whatever L; no FFT (K << L) and no Python loop over time.
"""

from __future__ import annotations


def sigmoid(xp, v):
    """The logistic without overflow: exp(-|v|) in both branches."""
    e = xp.exp(-xp.abs(v))
    one = xp.ones((), dtype=v.dtype)
    return xp.where(v >= 0, one / (one + e), e / (one + e))


def _extend(xp, x, init, K):
    B, D, _ = x.shape
    if init is None:
        init = xp.zeros((B, D, K - 1), dtype=x.dtype)
    return xp.concat([init, x], axis=-1)


def _pre(xp, xe, weight, bias, L):
    K = weight.shape[1]
    pre = weight[:, 0:1] * xe[:, :, 0:L]
    for k in range(1, K):
        pre = pre + weight[:, k:k + 1] * xe[:, :, k:k + L]
    if bias is not None:
        pre = pre + bias[:, None]
    return pre


def forward(xp, x, weight, bias, initial_states, *, activation):
    """(out (B, D, L), final_states (B, D, K-1)) for canonical arrays of one dtype."""
    K = weight.shape[1]
    L = x.shape[-1]
    xe = _extend(xp, x, initial_states, K)
    pre = _pre(xp, xe, weight, bias, L)
    out = pre * sigmoid(xp, pre) if activation == "silu" else pre
    return out, xe[:, :, L:]


def backward(xp, dout, x, weight, bias, initial_states, dfinal, *, activation):
    """(dx, dweight, dbias, dinitial_states): the forward's taps transposed."""
    K = weight.shape[1]
    B, D, L = x.shape
    xe = _extend(xp, x, initial_states, K)
    g = dout
    if activation == "silu":
        pre = _pre(xp, xe, weight, bias, L)
        s = sigmoid(xp, pre)
        g = g * (s * (1 + pre * (1 - s)))
    dxe = xp.zeros((B, D, L + K - 1), dtype=x.dtype)
    cols = []
    for k in range(K):
        dxe[:, :, k:k + L] = dxe[:, :, k:k + L] + weight[:, k:k + 1] * g
        cols.append(xp.sum(g * xe[:, :, k:k + L], axis=(0, 2)))
    if dfinal is not None:
        dxe[:, :, L:] = dxe[:, :, L:] + dfinal
    dw = xp.stack(cols, axis=1)
    dbias = None if bias is None else xp.sum(g, axis=(0, 2))
    dinit = None if initial_states is None else dxe[:, :, :K - 1]
    return dxe[:, :, K - 1:], dw, dbias, dinit


def update(xp, x, conv_state, weight, bias, *, activation):
    """(out (B, D, T), new_state (B, D, S)) for T tokens on a rolling state of width S >= K-1."""
    K = weight.shape[1]
    T = x.shape[-1]
    S = conv_state.shape[-1]
    window = xp.concat([conv_state, x], axis=-1)  # (B, D, S + T)
    # Token t sees window[..., t + S - K + 1 : t + S + 1]: a causal conv with S - K + 1 spare
    # leading values, so the taps are the forward's with an offset.
    off = S - (K - 1)
    pre = weight[:, 0:1] * window[:, :, off:off + T]
    for k in range(1, K):
        pre = pre + weight[:, k:k + 1] * window[:, :, off + k:off + k + T]
    if bias is not None:
        pre = pre + bias[:, None]
    out = pre * sigmoid(xp, pre) if activation == "silu" else pre
    return out, window[:, :, T:]
