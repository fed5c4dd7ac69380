"""The GEMM-shaped tile products of the fused S5 forms, register-blocked for LLVM's vectoriser.

numba compiles with the SLP vectoriser off, so only innermost loops vectorise, and LLVM's loop
vectoriser gives up where a loop needs more than 8 runtime alias checks (every written buffer
against every other buffer it touches): a loop that writes more than ~2 buffers stays scalar.
The plain forms (one channel or one state per inner loop: load, multiply-add, store) run one
store per two flops per lane, ~23 GFlop/s a core here. The forms below keep one or two written
buffers per loop and do more work per store:

- ``project_tile`` (v = B u, states in lanes): four channels per pass over the lanes, the
  first pass writing instead of adding (no zero fill);
- ``dot_tile`` (Re(C x) and the VJP's du = B^H d(Bu), a sum over the states): the states in
  lanes as a reduction, two time rows by four channels (8 accumulators) per pass, no store
  inside the loop; ``fastmath={"reassoc", "contract"}`` on it alone lets LLVM keep the sums as
  vector partial sums (another summation order within float rounding, no change to NaN/inf);
- ``outer_acc`` (dB and dC sums over time): four time rows per pass over the lanes.

``contract`` (a*b + c as one FMA, one rounding fewer) is on all three. The old and new forms'
differences are float rounding; the fused tests compare both with the float64 oracle.
"""

from __future__ import annotations

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_zero = nbm.helpers()["zero_of"]
_FMA = dict(cache=True, error_model="numpy", fastmath={"contract"})
_SUM = dict(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
HB = 4  # channels per pass of project_tile, time rows per pass of outer_acc


@nbs.numba().njit(**_FMA)
def project_tile(u, b, t0, T, BrT, BiT, c0, n, vr, vi):
    """v[k n + j] = sum_h B[c0 + j, h] u[b, h, t0 + k] (planes; BrT, BiT (H, >= c0 + n)); the
    u-imaginary terms only for the channel blocks where u[b, h, t] has one."""
    c0, t0 = max(c0, 0), max(t0, 0)  # (known >= 0: no negative-index select per access)
    H = u.shape[1]
    H4 = H - H % HB
    zero = _zero(BrT[0, 0])
    if H4 == 0:
        for i in range(T * n):
            vr[i] = zero
            vi[i] = zero
    for k in range(T):
        o, t = max(k * n, 0), t0 + k  # (max: known >= 0, as c0)
        for h in range(0, H4, HB):
            a0, a1, a2, a3 = u[b, h, t], u[b, h + 1, t], u[b, h + 2, t], u[b, h + 3, t]
            r0, r1, r2, r3 = a0.real, a1.real, a2.real, a3.real
            if h == 0:
                for j in range(n):
                    c = c0 + j
                    vr[o + j] = (BrT[h, c] * r0 + BrT[h + 1, c] * r1 + BrT[h + 2, c] * r2
                                 + BrT[h + 3, c] * r3)
                    vi[o + j] = (BiT[h, c] * r0 + BiT[h + 1, c] * r1 + BiT[h + 2, c] * r2
                                 + BiT[h + 3, c] * r3)
            else:
                for j in range(n):
                    c = c0 + j
                    vr[o + j] = (vr[o + j] + BrT[h, c] * r0 + BrT[h + 1, c] * r1
                                 + BrT[h + 2, c] * r2 + BrT[h + 3, c] * r3)
                    vi[o + j] = (vi[o + j] + BiT[h, c] * r0 + BiT[h + 1, c] * r1
                                 + BiT[h + 2, c] * r2 + BiT[h + 3, c] * r3)
            i0, i1, i2, i3 = a0.imag, a1.imag, a2.imag, a3.imag
            if (i0 != 0) | (i1 != 0) | (i2 != 0) | (i3 != 0):
                for j in range(n):
                    c = c0 + j
                    vr[o + j] = (vr[o + j] - BiT[h, c] * i0 - BiT[h + 1, c] * i1
                                 - BiT[h + 2, c] * i2 - BiT[h + 3, c] * i3)
                    vi[o + j] = (vi[o + j] + BrT[h, c] * i0 + BrT[h + 1, c] * i1
                                 + BrT[h + 2, c] * i2 + BrT[h + 3, c] * i3)
        for h in range(H4, H):  # the channels past the last block of HB
            uu = u[b, h, t]
            ur, ui = uu.real, uu.imag
            for j in range(n):
                vr[o + j] += BrT[h, c0 + j] * ur
                vi[o + j] += BiT[h, c0 + j] * ur
            if ui != 0:
                for j in range(n):
                    vr[o + j] -= BiT[h, c0 + j] * ui
                    vi[o + j] += BrT[h, c0 + j] * ui


@nbs.numba().njit(**_SUM)
def dot_tile(T, n, c0, Mr, Mi, ar, ai, out):
    """out[k Hp + h] = sum_j Mr[h, c0 + j] ar[k n + j] + Mi[h, c0 + j] ai[k n + j] for k < T,
    h < Hp = Mr.shape[0]. The blocks past T or Hp repeat the last row or channel (computed,
    not stored) instead of a remainder loop."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    Hp = Mr.shape[0]
    zero = _zero(Mr[0, 0])
    for k in range(0, T, 2):
        q0 = max(k * n, 0)  # (max: known >= 0; else LLVM gathers with a sign select)
        q1 = max(q0 + n, 0) if k + 1 < T else q0
        for h in range(0, Hp, HB):
            h1, h2, h3 = min(h + 1, Hp - 1), min(h + 2, Hp - 1), min(h + 3, Hp - 1)
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for j in range(n):
                p = c0 + j
                x0, y0, x1, y1 = ar[q0 + j], ai[q0 + j], ar[q1 + j], ai[q1 + j]
                mr, mi = Mr[h, p], Mi[h, p]
                s00 += mr * x0 + mi * y0
                s01 += mr * x1 + mi * y1
                mr, mi = Mr[h1, p], Mi[h1, p]
                s10 += mr * x0 + mi * y0
                s11 += mr * x1 + mi * y1
                mr, mi = Mr[h2, p], Mi[h2, p]
                s20 += mr * x0 + mi * y0
                s21 += mr * x1 + mi * y1
                mr, mi = Mr[h3, p], Mi[h3, p]
                s30 += mr * x0 + mi * y0
                s31 += mr * x1 + mi * y1
            for r in range(2 if k + 1 < T else 1):
                o = (k + r) * Hp + h
                out[o] = s01 if r else s00
                if h + 1 < Hp:
                    out[o + 1] = s11 if r else s10
                if h + 2 < Hp:
                    out[o + 2] = s21 if r else s20
                if h + 3 < Hp:
                    out[o + 3] = s31 if r else s30


@nbs.numba().njit(**_FMA)
def output_tile(T, n, c0, Mr, Min, Mi, xr, xi, want_imag, yr, yi):
    """yr + i yi = M x per time row (yr[k Hp + h] = sum_j Mr xr + Min xi, yi = sum_j Mr xi +
    Mi xr over the states j, M's planes (Hp, >= c0 + n)): for y = C x, (Mr, Min, Mi) =
    (Re C, -Im C, Im C); for du = conj(B)^T d(Bu), (Re B^T, Im B^T, -Im B^T)."""
    dot_tile(T, n, c0, Mr, Min, xr, xi, yr)
    if want_imag:
        dot_tile(T, n, c0, Mr, Mi, xi, xr, yi)


@nbs.numba().njit(**_FMA)
def outer_acc(z, b, t0, T, n, pr, pi, accr, acci):
    """acc[h n + j] += sum_k p[k n + j] conj(z[b, h, t0 + k]) (z's imaginary terms only for the
    time blocks where it has one): dB from (dBu, u), and conj(dC) from (x, g)."""
    t0 = max(t0, 0)  # (known >= 0: no negative-index select per access)
    H = z.shape[1]
    T4 = T - T % HB
    for h in range(H):
        q = max(h * n, 0)  # (max: known >= 0, as c0)
        for k in range(0, T4, HB):
            o0, o1, o2, o3 = (max(k * n, 0), max((k + 1) * n, 0), max((k + 2) * n, 0),
                              max((k + 3) * n, 0))
            a0, a1, a2, a3 = z[b, h, t0 + k], z[b, h, t0 + k + 1], z[b, h, t0 + k + 2], z[
                b, h, t0 + k + 3]
            r0, r1, r2, r3 = a0.real, a1.real, a2.real, a3.real
            for j in range(n):
                accr[q + j] = (accr[q + j] + pr[o0 + j] * r0 + pr[o1 + j] * r1
                               + pr[o2 + j] * r2 + pr[o3 + j] * r3)
                acci[q + j] = (acci[q + j] + pi[o0 + j] * r0 + pi[o1 + j] * r1
                               + pi[o2 + j] * r2 + pi[o3 + j] * r3)
            i0, i1, i2, i3 = a0.imag, a1.imag, a2.imag, a3.imag
            if (i0 != 0) | (i1 != 0) | (i2 != 0) | (i3 != 0):
                for j in range(n):
                    accr[q + j] = (accr[q + j] + pi[o0 + j] * i0 + pi[o1 + j] * i1
                                   + pi[o2 + j] * i2 + pi[o3 + j] * i3)
                    acci[q + j] = (acci[q + j] - pr[o0 + j] * i0 - pr[o1 + j] * i1
                                   - pr[o2 + j] * i2 - pr[o3 + j] * i3)
        for k in range(T4, T):  # the time rows past the last block of HB
            o = max(k * n, 0)
            zz = z[b, h, t0 + k]
            zr, zi = zz.real, zz.imag
            for j in range(n):
                accr[q + j] += pr[o + j] * zr
                acci[q + j] += pi[o + j] * zr
            if zi != 0:
                for j in range(n):
                    accr[q + j] += pi[o + j] * zi
                    acci[q + j] -= pr[o + j] * zi
