"""numba S5 forward in one pass: projection, discretisation, recurrence and output per tile.

The BLAS form (``_numba.forward``) writes ``B u`` and the states x, two complex (B, P, L)
arrays, to memory and reads them back for the scan and for ``C x``; the scan's complex
recurrence per (batch, state) row is a dependent chain of 4 flops per step. Here each work unit
(a batch b and a block of states p0..p0+n) walks time in tiles of T steps, everything in
real/imaginary planes laid out time-major ((T, n), the states unit-stride) so every loop runs
over the states in SIMD lanes:

1. ``v = B u`` of the tile: for each (t, h) one broadcast of u[h, t] times B's row over the
   states (4 flops per state and channel where the tile's u is real, 8 where not);
2. (Abar, gamma) of the tile's steps, vectorised over the tile (zoh's e^x - 1 without
   cancellation and the scaled reciprocal as in ``numba_math.zoh_line``; bilinear's two
   reciprocals; dirac's e^x), once per unit where the steps are constant in time;
3. the recurrence h = Abar h + gamma v, the unit's states in lanes (no latency chain per row);
4. the output ``C x`` of the tile over the channels (Re only for ``s5_inner``).

Only u, the steps and y touch memory: no (B, P, L) temporary. Where B is smaller than the
threads, the states are split into blocks whose partial outputs are summed in a second loop.

Arithmetic per state element (zoh, varying steps, real u, s5_inner): 4H flops for B u and 4H
for Re(C x) (128 at H = 16), ~14 for the recurrence, and e^x - 1, sin/cos(q/2) and one
complex reciprocal (~80 flops) for the discretisation. Measured on one thread (a 32 x 256
tile, H = 16, ns an element): steps gather 0.7, discretisation 4.0, B u 1.3 and C x 1.0 (the
register-blocked forms of ``_numba_fused_gemm``; the plain loops took 2.3 and 2.7),
recurrence 0.8: the discretisation's sin/cos and e^x are now the larger part. The VJP
(``_numba_fused_vjp``) does ~512 GEMM-shaped flops an element plus the discretisation twice,
once with its partials (8.2 ns an element, 3 of them phi1's 17-term series).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from ._numba_fused_gemm import output_tile, project_tile
from ._numba_trig import vsincos as _vsincos

_kernel = nbs.kernel()
prange = nbs.numba().prange
_H = nbm.helpers()
_exp, _expm1_exp = _H["exp"], _H["expm1_exp"]  # (sin/cos: ``_numba_trig``'s float32 lanes)
# Typed constants: x * 0 or x * 0 + 1 types float32 as float64 in numba (the whole tile).
_zero, _one = _H["zero_of"], _H["one_of"]
_CODE = {"bilinear": nbs.BILINEAR, "zoh": nbs.ZOH, "dirac": nbs.DIRAC}
_JIT = dict(cache=True, error_model="numpy")
TILE_ELEMS = 8192  # T * n per tile: ~12 real planes of it stay in L2
# Lanes: the inner loops run over the block's states; LLVM's vector body takes 32 of them
# (8 lanes x 4) and leaves the rest to a scalar loop, so blocks are padded to a multiple of G
# with inert lanes (A = 0, steps 0, B and C columns 0: Abar = 1, gamma v = 0, no output).
# (A compile-time inner count of 8 instead was fully unrolled and not vectorised: 4-8x slower.)
G = 32


@nbs.numba().njit(**_JIT)
def _fill_steps(dt3, b, p0, nr, n, t0, T, out):
    """out[k n + j] = the step of (b, p0 + j, t0 + k) for j < nr (any axis of dt3
    broadcast), 0 for the padding lanes j >= nr."""
    sb, sp, st = dt3.shape[0] > 1, dt3.shape[1] > 1, dt3.shape[2] > 1
    bb = b if sb else 0
    p0, t0 = max(p0, 0), max(t0, 0)  # (known >= 0: no negative-index select per access)
    zero = _zero(dt3[0, 0, 0])
    for k in range(T):
        for j in range(nr, n):
            out[k * n + j] = zero
    if not sp:
        for k in range(T):
            v = dt3[bb, 0, t0 + k if st else 0]
            for j in range(nr):
                out[k * n + j] = v
        return
    for j in range(nr):  # the source rows are unit-stride in time: read along them
        if st:
            for k in range(T):
                out[k * n + j] = dt3[bb, p0 + j, t0 + k]
        else:
            v = dt3[bb, p0 + j, 0]
            for k in range(T):
                out[k * n + j] = v


@nbs.numba().njit(**_JIT)
def _exp_tile(s, Ar, Ai, c0, n, T, er, ei, wx, ws, wc):
    """er + i ei = e^(s a) per element (a = A[c0 + j]): e^re (cos, sin)(im), vectorised."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    for k in range(T):
        for j in range(n):
                wx[k * n + j] = s[k * n + j] * Ai[c0 + j]
    _vsincos(wx, ws, wc, T * n)
    for k in range(T):
        for j in range(n):
                i = k * n + j
                e = _exp(s[i] * Ar[c0 + j])
                er[i] = e * wc[i]
                ei[i] = e * ws[i] if wx[i] != 0 else wx[i]


@nbs.numba().njit(**_JIT)
def _zoh_e_tile(s, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc):
    """zoh's first half: (abr, abi) = E = e^x, wx = Re(e^x - 1) = expm1(p) - e^p 2 sin^2(q/2)
    (no cancellation near 0; Im(e^x - 1) = e^p sin q = abi), x = s a = p + iq. (Each loop of
    these tiles writes <= 3 buffers: with more, LLVM's runtime alias checks exceed its limit
    and the loop stays scalar.)"""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    one = _one(Ar[0])
    two, half = one + one, one / 2
    for k in range(T):
        for j in range(n):
            wx[k * n + j] = s[k * n + j] * Ai[c0 + j] * half
    _vsincos(wx, ws, wc, T * n)
    for k in range(T):
        for j in range(n):
            i = k * n + j
            em, ea = _expm1_exp(s[i] * Ar[c0 + j])
            sh = ws[i]
            hh = two * sh * sh
            abr[i] = ea - ea * hh
            abi[i] = ea * (two * sh * wc[i])
            wx[i] = em - ea * hh


@nbs.numba().njit(**_JIT)
def _phi1_tile(s, Ar, Ai, c0, n, T, mr, mi, scaled, outr, outi):
    """out = (s if scaled else 1) * phi1(x), phi1 = (e^x - 1)/x from e^x - 1 = mr + i mi
    through the scaled reciprocal conj(x/c) / (c |x/c|^2), c = max(|p|, |q|); phi1(0) = 1."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    one = _one(Ar[0])
    zero = one - one
    for k in range(T):
        for j in range(n):
            i = k * n + j
            xr, xi = s[i] * Ar[c0 + j], s[i] * Ai[c0 + j]
            ic = one / max(abs(xr), abs(xi))
            zr, zi = xr * ic, xi * ic
            q = ic / (zr * zr + zi * zi)
            rr, ri = zr * q, -(zi * q)
            pr, pi = mr[i] * rr - mi[i] * ri, mr[i] * ri + mi[i] * rr
            x0 = (xr == 0) & (xi == 0)
            f = s[i] if scaled else one
            outr[i] = f * (one if x0 else pr)
            outi[i] = f * (zero if x0 else pi)


@nbs.numba().njit(**_JIT)
def _zoh_tile(s, Ar, Ai, c0, n, T, abr, abi, gmr, gmi, wx, ws, wc):
    """Abar = e^x, gamma = s phi1(x), x = s a (the numerics layer's stable forms)."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    _zoh_e_tile(s, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc)
    _phi1_tile(s, Ar, Ai, c0, n, T, wx, abi, True, gmr, gmi)


@nbs.numba().njit(**_JIT)
def _recip_planes(dr, di):
    """1/(dr + i di) as conj(d/c) / (c |d/c|^2), c = max(|dr|, |di|)."""
    ic = _one(dr) / max(abs(dr), abs(di))
    zr, zi = dr * ic, di * ic
    q = ic / (zr * zr + zi * zi)
    return zr * q, -(zi * q)


@nbs.numba().njit(**_JIT)
def recip_half_tile(s, Ar, Ai, c0, n, T, outr, outi):
    """out = 1 / (1 - s a / 2) (bilinear's reciprocal)."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    one = _one(Ar[0])
    half = one / 2
    for k in range(T):
        for j in range(n):
            i = k * n + j
            outr[i], outi[i] = _recip_planes(one - s[i] * Ar[c0 + j] * half,
                                             -(s[i] * Ai[c0 + j] * half))


@nbs.numba().njit(**_JIT)
def _bilinear_tile(s, sA, same, Ar, Ai, c0, n, T, abr, abi, gmr, gmi, wx, ws):
    """Abar = (1 + sA a/2) ia, ia = 1 / (1 - sA a/2); gamma = s ib, ib = 1/(1 - s a/2)."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    one = _one(Ar[0])
    half = one / 2
    recip_half_tile(sA, Ar, Ai, c0, n, T, wx, ws)
    for k in range(T):
        for j in range(n):
            i = k * n + j
            xr, xi = sA[i] * Ar[c0 + j] * half, sA[i] * Ai[c0 + j] * half
            nr = one + xr
            abr[i] = nr * wx[i] - xi * ws[i]
            abi[i] = nr * ws[i] + xi * wx[i]
    if not same:
        recip_half_tile(s, Ar, Ai, c0, n, T, wx, ws)
    for i in range(T * n):
        gmr[i] = s[i] * wx[i]
        gmi[i] = s[i] * ws[i]


@nbs.numba().njit(**_JIT)
def disc_tile(method, s, sA, has_dtA, Ar, Ai, c0, n, T, abr, abi, gmr, gmi, wx, ws, wc):
    """(Abar at sA, gamma at s) planes of a (T, n) tile; dirac's gamma = 1."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    if method == nbs.ZOH:
        _zoh_tile(s, Ar, Ai, c0, n, T, abr, abi, gmr, gmi, wx, ws, wc)
        if has_dtA:
            _exp_tile(sA, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc)
    elif method == nbs.BILINEAR:
        _bilinear_tile(s, sA, not has_dtA, Ar, Ai, c0, n, T, abr, abi, gmr, gmi, wx, ws)
    else:
        _exp_tile(sA, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc)
        one = _one(Ar[0])
        for i in range(T * n):
            gmr[i] = one
            gmi[i] = one - one


@nbs.numba().njit(**_JIT)
def tile_steps(dt3, dtA3, has_dtA, b, p0, nr, n, t0, T, s, sA):
    """s, sA = the tile's steps of gamma and of Abar (``_fill_steps`` layout); sA is s where
    there is no separate A step."""
    _fill_steps(dt3, b, p0, nr, n, t0, T, s)
    if has_dtA:
        _fill_steps(dtA3, b, p0, nr, n, t0, T, sA)
    else:
        for i in range(T * n):
            sA[i] = s[i]


@nbs.numba().njit(**_JIT)
def recur_tile(T, n, abr, abi, gmr, gmi, vr, vi, hr, hi, xr, xi):
    """x_k = Abar_k x_{k-1} + gamma_k v_k over the tile, states in lanes; h carries in/out."""
    for k in range(T):
        o = k * n
        for j in range(n):
                i = o + j
                wr = gmr[i] * vr[i] - gmi[i] * vi[i]
                wi = gmr[i] * vi[i] + gmi[i] * vr[i]
                a_r, a_i = abr[i], abi[i]
                nr = a_r * hr[j] - a_i * hi[j] + wr
                ni = a_r * hi[j] + a_i * hr[j] + wi
                hr[j] = nr
                hi[j] = ni
                xr[i] = nr
                xi[i] = ni


@nbs.numba().njit(**_JIT)
def recur_state_tile(T, n, abr, abi, gmr, gmi, vr, vi, hr, hi):
    """``recur_tile`` without the states' stores: only h carries out (the VJP's forward pass
    keeps one state per tile)."""
    for k in range(T):
        o = max(k * n, 0)  # (max: known >= 0, no sign select per access)
        for j in range(n):
            i = o + j
            wr = gmr[i] * vr[i] - gmi[i] * vi[i]
            wi = gmr[i] * vi[i] + gmi[i] * vr[i]
            a_r, a_i = abr[i], abi[i]
            nr = a_r * hr[j] - a_i * hi[j] + wr
            hi[j] = a_r * hi[j] + a_i * hr[j] + wi
            hr[j] = nr


@_kernel
def _fused(u, dt3, dtA3, has_dtA, Ar, Ai, BrT, BiT, Cr, Cin, Ci, h0, has_h0, method, P, PB, T,
           want_imag, scale, D, has_D, ypr, ypi, last):
    """ypr/ypi[blk, b, h, t]: scale times the output's real/imaginary parts from state block
    blk (states blk PB .., padded columns blk PB ..), block 0 with D Re(u) added to the real
    part; last (B, P) complex: the final states."""
    Bsz, H, L = u.shape
    nblk = ypr.shape[0]
    Hp = Cr.shape[0]
    const = dt3.shape[2] == 1 and (not has_dtA or dtA3.shape[2] == 1)
    rdt = Ar.dtype
    zero = _zero(Ar[0])
    for unit in prange(Bsz * nblk):
        b, blk = unit // nblk, unit % nblk
        p0 = blk * PB
        nr = min(PB, P - p0)  # real states of the block; PB lanes (a multiple of G)
        n = PB
        m = T * n
        s, sA = np.empty(m, rdt), np.empty(m, rdt)
        abr, abi, gmr, gmi = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        vr, vi, xr, xi = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        wx, ws, wc = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        yr, yi = np.empty(T * Hp, rdt), np.empty(T * Hp, rdt)
        hr, hi = np.zeros(n, rdt), np.zeros(n, rdt)
        if has_h0:
            for j in range(nr):
                hr[j] = h0[b, p0 + j].real
                hi[j] = h0[b, p0 + j].imag
        for t0 in range(0, L, T):
            Tn = min(T, L - t0)
            if t0 == 0 or not const:  # constant steps: the first tile's rows serve all
                Td = T if const else Tn
                tile_steps(dt3, dtA3, has_dtA, b, p0, nr, n, t0, Td, s, sA)
                disc_tile(method, s, sA, has_dtA, Ar, Ai, p0, n, Td, abr, abi, gmr, gmi,
                          wx, ws, wc)
            project_tile(u, b, t0, Tn, BrT, BiT, p0, n, vr, vi)
            recur_tile(Tn, n, abr, abi, gmr, gmi, vr, vi, hr, hi, xr, xi)
            output_tile(Tn, n, p0, Cr, Cin, Ci, xr, xi, want_imag, yr, yi)
            t0 = max(t0, 0)
            for h in range(H):
                dh = D[h] if (has_D and blk == 0) else zero
                for k in range(Tn):
                    ypr[blk, b, h, t0 + k] = scale * yr[k * Hp + h] + dh * u[b, h, t0 + k].real
                if want_imag:
                    for k in range(Tn):
                        ypi[blk, b, h, t0 + k] = scale * yi[k * Hp + h]
        for j in range(nr):
            last[b, p0 + j] = hr[j] + 1j * hi[j]


@_kernel
def _combine(ypr, ypi, want_imag, out_r, out_c):
    """Sum the blocks' partial outputs into out_r (real) or out_c (complex, ``want_imag``)."""
    nblk, Bsz, H, L = ypr.shape
    for row in prange(Bsz * H):
        b, h = row // H, row % H
        for t in range(L):
            acc = ypr[0, b, h, t]
            for k in range(1, nblk):
                acc += ypr[k, b, h, t]
            if want_imag:
                im = ypi[0, b, h, t]
                for k in range(1, nblk):
                    im += ypi[k, b, h, t]
                out_c[b, h, t] = acc + 1j * im
            else:
                out_r[b, h, t] = acc


def _up(n, g=G):
    return -(-n // g) * g


def blocks(Bsz, P, threads):
    """(state block size PB, a multiple of G; block count): one block where the batch alone
    fills the threads, else enough to give every thread a unit."""
    want = 1 if Bsz >= threads else -(-threads // max(Bsz, 1))
    PB = _up(max(1, -(-P // want)))
    return PB, max(1, -(-P // PB))


# The in-kernel products cost 4H flops per state element each; past some channels BLAS's GEMMs
# around the row kernels win. With the register-blocked products (``_numba_fused_gemm``),
# measured fused/BLAS-form time (s5_inner zoh, 2 threads, interleaved, min of 5, load ~4.9),
# varying | constant steps: B4 P256 L1024 H32 fwd 0.62 | 0.78, VJP 0.71 | 0.89; H48 VJP
# 0.81 | 1.15; H64 fwd 0.79 | 0.86, VJP 0.92 | 1.30; H96 fwd 0.98 | 0.85; H128 fwd
# 0.90 | 1.01; B2 P64 L1024 H64 fwd 0.88 | 0.62, VJP 0.97 | 1.43. (Before them: H64 fwd
# 1.35 | 1.23, H32 VJP 0.98 | 1.12.)
MAX_H = {"forward": 64, "vjp": 32}


def suits(Bsz, H, P, threads, which="forward"):
    """Whether the fused pass (``which``: "forward" or "vjp") is the faster form here: few
    channels (``MAX_H``), enough states for full vector bodies (the old row kernel wins at
    P = 16, where a block would be half padding) and a unit per thread."""
    if H < 1 or H > MAX_H[which] or P < 2 * G or Bsz < 1:
        return False
    PB, nblk = blocks(Bsz, P, threads)
    return Bsz * nblk >= min(threads, 2) and PB * nblk <= P + P // 2


def _pad_cols(x, cols):
    out = np.zeros(x.shape[:-1] + (cols,), x.dtype)
    out[..., :x.shape[-1]] = x
    return out


def run(u, dt3, A, B, C, dtA3, h0, disc, threads, *, want_imag, scale=1.0, D=None):
    """(out, last): out = scale * y, y = C x complex (B, H, L) when ``want_imag`` (D: None),
    else the real ``scale * Re(y) + D * Re(u)``; last (B, P) complex."""
    Bsz, H, L = u.shape
    P = A.shape[0]
    rdt = dt3.dtype
    PB, nblk = blocks(Bsz, P, threads)
    Pp = PB * nblk
    T = max(8, min(256, TILE_ELEMS // PB))
    dtA, has_dtA = (dtA3, True) if dtA3 is not None else (dt3, False)
    h0_, has_h0 = (h0, True) if h0 is not None else (np.zeros((1, 1), u.dtype), False)
    Ci = _pad_cols(C.imag, Pp)  # (Hp = H, Pp)
    planes = (_pad_cols(A.real, Pp), _pad_cols(A.imag, Pp), _pad_cols(B.real.T, Pp),
              _pad_cols(B.imag.T, Pp), _pad_cols(C.real, Pp), -Ci, Ci)
    last = np.empty((Bsz, P), u.dtype)
    ypr = np.empty((nblk, Bsz, H, L), rdt)
    ypi = np.empty((nblk, Bsz, H, L) if want_imag else (1, 1, 1, 1), rdt)
    Dv, has_D = (D, True) if D is not None else (np.zeros(1, rdt), False)
    _fused(u, dt3, dtA, has_dtA, *planes, h0_, has_h0, _CODE[disc], P, PB, T, want_imag,
           rdt.type(scale), Dv, has_D, ypr, ypi, last)
    if nblk == 1 and not want_imag:
        return ypr[0], last
    out_r = np.empty((Bsz, H, L) if not want_imag else (1, 1, 1), rdt)
    out_c = np.empty((Bsz, H, L) if want_imag else (1, 1, 1), u.dtype)
    _combine(ypr, ypi, want_imag, out_r, out_c)
    return (out_c if want_imag else out_r), last
