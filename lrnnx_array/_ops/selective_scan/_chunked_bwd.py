"""The backward of the selective scan's chunked loops (see ``_chunked`` for the layouts).

Two passes per thread block: the chunk-boundary states forward, then the chunks in reverse,
each recomputed from its boundary state (Ā, γ and their derivatives from ``selective_disc``)
while the state cotangent runs back through it.
"""

from __future__ import annotations

from typing import NamedTuple

from ._chunked import (
    Problem,
    _block,
    _c_at,
    _chunk,
    _chunk_len,
    _conj,
    _contract_C,
    _h_init,
    _re,
    _recur,
    _run_blocks,
    _split,
)


class BlockGrads(NamedTuple):
    y: object  # (L, b, G, dg) recomputed output before D-skip (for dz)
    du: object  # (L, b, G, dg): the scan's part of du
    ddt: object  # (L, b, G, dg): gradient w.r.t. the effective Δ (input side)
    ddtA: object  # (L, b, G, dg): gradient w.r.t. the effective Δᴬ
    dA: object  # (G, N, dg)
    dB: object  # constant (G, N, dg) or variable (L, b, G, N)
    dC: object
    dh0: object  # (b, G, N, dg)


def _bwd_block(xp, P: Problem, gy, dlast, bs: slice, ds: slice, state_dtype):
    """Gradients of one block. ``gy`` (L, B, G, Dg) is the cotangent of the scan output y."""
    blk = _block(xp, P, bs, ds)
    L, nb, G, nd = blk.u.shape
    N = P.A.shape[1]
    T = _chunk_len(P, nb, nd)
    gy = gy[:, bs, :, ds]
    rt = blk.u.dtype
    # Pass 1: chunk-boundary states only.
    starts = list(range(0, L, T))
    bounds = []
    h = _h_init(xp, P, bs, ds, (nb, G, N, nd), state_dtype)
    for t0 in starts:
        t1 = min(L, t0 + T)
        bounds.append(h)
        *_, disc, bb = _chunk(xp, blk, P, t0, t1, False)
        _recur(xp, disc.Abar, bb, h)
        h = bb[t1 - t0 - 1, ...]
    y = xp.empty((L, nb, G, nd), dtype=rt)
    du = xp.empty((L, nb, G, nd), dtype=rt)
    ddt = xp.zeros((L, nb, G, nd), dtype=rt)
    ddtA = xp.empty((L, nb, G, nd), dtype=rt)
    dA = xp.zeros((G, N, nd), dtype=state_dtype)
    dB = xp.zeros((L, nb, G, N) if P.B_var else (G, N, nd), dtype=state_dtype)
    dC = xp.zeros((L, nb, G, N) if P.C_var else (G, N, nd), dtype=state_dtype)
    carry = xp.zeros((nb, G, N, nd), dtype=state_dtype)
    if dlast is not None:
        carry = carry + dlast[bs, :, :, ds]
    # Pass 2: chunks in reverse; recompute inside the chunk, then the adjoint loop.
    for t0, h_start in zip(reversed(starts), reversed(bounds)):
        t1 = min(L, t0 + T)
        n = t1 - t0
        dt, dtA, u, Bt, disc, H = _chunk(xp, blk, P, t0, t1, True)
        _recur(xp, disc.Abar, H, h_start)
        Ct = _c_at(xp, blk, P, t0, t1)
        y[t0:t1, ...] = _contract_C(xp, H, Ct, P)
        g = xp.expand_dims(gy[t0:t1, ...], axis=-2)  # (T, b, G, 1, dg)
        # dC = Σ gy·h (real) or 2·gy·conj(h) (complex), reduced to C's layout.
        if P.C_var:
            gc = xp.matmul(H, xp.matrix_transpose(g))[..., 0]
            dC[t0:t1, ...] = 2 * xp.conj(gc) if P.cplx else gc
        else:
            gc = xp.sum(g * H, axis=(0, 1))
            dC = dC + (2 * xp.conj(gc) if P.cplx else gc)
        # λ (a fresh (T, b, G, N, dg) array): seed c_t·gy_t, then the reverse loop.
        lam = (2 * xp.conj(Ct) if P.cplx else Ct) * g
        if tuple(lam.shape) != tuple(H.shape):
            lam = lam + xp.zeros(H.shape, dtype=lam.dtype)
        Abar_c = _conj(xp, disc.Abar)
        lam[n - 1, ...] += carry
        for t in range(n - 2, -1, -1):
            lam[t, ...] += Abar_c[t + 1, ...] * lam[t + 1, ...]
        carry = Abar_c[0, ...] * lam[0, ...]
        # G_Ā = λ·conj(h_{t-1}) with h_{t-1} from the recomputed states.
        GA = xp.empty(H.shape, dtype=H.dtype)
        GA[0, ...] = lam[0, ...] * _conj(xp, h_start)
        if n > 1:
            GA[1:, ...] = lam[1:, ...] * _conj(xp, H[:-1, ...])
        ddtA[t0:t1, ...] = xp.sum(_re(xp, _conj(xp, disc.dAbar_ddeltaA) * GA), axis=-2)
        if disc.dAbar_dA is not None:
            dA = dA + xp.sum(_conj(xp, disc.dAbar_dA) * GA, axis=(0, 1))
        dA_in, dB_in = _input_grads(xp, P, disc, lam, u, Bt, t0, t1, du, ddt, ddtA, dB)
        if dA_in is not None:
            dA = dA + dA_in
        if dB_in is not None:
            dB = dB + dB_in
    dh0 = carry if P.h0 is not None else None
    return BlockGrads(y, du, ddt, ddtA, dA, dB, dC, dh0)


def _input_grads(xp, P, disc, lam, u, Bt, t0, t1, du, ddt, ddtA, dB):
    """Gradients through b̄ = γ·B·u given G_b̄ = λ (T, b, G, N, dg).

    Writes the per-step rows of du, ddt, ddtA (and of a variable dB) in place; returns this
    chunk's contributions to dA and to a constant dB (None when nothing).
    """
    g = disc.gamma
    us = u[..., 0, :]
    if isinstance(g, float) or g.shape[-2] == 1:  # γ constant over the state axis
        # S = Σ_n λ·conj(B): one batched matvec for variable B.
        if P.B_var:
            S = xp.matmul(xp.matrix_transpose(_conj(xp, Bt)), lam)[..., 0, :]
        else:
            S = xp.sum(lam * _conj(xp, Bt), axis=-2)
        S = _re(xp, S)
        du[t0:t1, ...] = S if isinstance(g, float) else g[..., 0, :] * S
        if disc.dgamma_ddelta is not None:  # mamba: dγ/dΔ = 1
            ddt[t0:t1, ...] += disc.dgamma_ddelta * S * us
        gu = u if isinstance(g, float) else g * u  # (T, b, G, 1, dg), real
        if P.B_var:
            dB[t0:t1, ...] = xp.matmul(lam, xp.matrix_transpose(gu))[..., 0]
            return None, None
        return None, xp.sum(gu * lam, axis=(0, 1))
    # γ depends on n (zoh, bilinear, rglru): G_γ = λ·conj(B)·u.
    LB = lam * _conj(xp, Bt)
    du[t0:t1, ...] = xp.sum(_re(xp, _conj(xp, g) * LB), axis=-2)
    if disc.dgamma_ddelta is not None:
        ddt[t0:t1, ...] += us * xp.sum(_re(xp, _conj(xp, disc.dgamma_ddelta) * LB), axis=-2)
    if disc.dgamma_ddeltaA is not None:
        ddtA[t0:t1, ...] += us * xp.sum(_re(xp, _conj(xp, disc.dgamma_ddeltaA) * LB), axis=-2)
    dA_in = None
    if disc.dgamma_dA is not None:
        dA_in = xp.sum(_conj(xp, disc.dgamma_dA) * LB * u, axis=(0, 1))
    gb = lam * (_conj(xp, g) * u)
    if P.B_var:
        dB[t0:t1, ...] = xp.sum(gb, axis=-1)
        return dA_in, None
    return dA_in, xp.sum(gb, axis=(0, 1))


def scan_backward(xp, P: Problem, gy, dlast, state_dtype):
    """Combine the blocks' gradients (per-step ones time-major, states (B, G, N, Dg)).

    ``dlast`` is in the state layout (B, G, N, Dg) or None.
    """
    L, Bsz, G, Dg = P.u.shape
    N = P.A.shape[1]
    blocks = _split(xp, P)
    res = _run_blocks(xp, lambda bs, ds: _bwd_block(xp, P, gy, dlast, bs, ds, state_dtype), blocks)
    if len(res) == 1:
        return res[0]
    rt = P.u.dtype

    def per_step():
        return xp.empty((L, Bsz, G, Dg), dtype=rt)

    y, du, ddt, ddtA = per_step(), per_step(), per_step(), per_step()
    dA = xp.zeros((G, N, Dg), dtype=state_dtype)
    dB = xp.zeros((L, Bsz, G, N) if P.B_var else (G, N, Dg), dtype=state_dtype)
    dC = xp.zeros((L, Bsz, G, N) if P.C_var else (G, N, Dg), dtype=state_dtype)
    dh0 = None if P.h0 is None else xp.empty((Bsz, G, N, Dg), dtype=state_dtype)
    for (bs, ds), r in zip(blocks, res):
        for full, part in ((y, r.y), (du, r.du), (ddt, r.ddt), (ddtA, r.ddtA)):
            full[:, bs, :, ds] = part
        dA[:, :, ds] = dA[:, :, ds] + r.dA
        for full, part, var in ((dB, r.dB, P.B_var), (dC, r.dC, P.C_var)):
            if var:
                full[:, bs, ...] = full[:, bs, ...] + part
            else:
                full[:, :, ds] = full[:, :, ds] + part
        if dh0 is not None:
            dh0[bs, :, :, ds] = r.dh0
    return BlockGrads(y, du, ddt, ddtA, dA, dB, dC, dh0)
