"""Kernel length bookkeeping shared by the kernel and its oracle (plain Python integers)."""

from __future__ import annotations


def kernel_lengths(L: int, rate: float, l_kernel, C_is_tilde: bool):
    """(l_kernel, discrete_L) for a kernel of L samples at relative sampling ``rate``.

    As lrnnx: the continuous length is round(rate L); the C̃ length starts at ``l_kernel`` (or at
    the continuous length when C is the plain C and no ``l_kernel`` is given) and doubles until it
    covers the continuous length; the FFT length is round(l_kernel / rate). Unlike lrnnx, it also
    doubles while that FFT length is shorter than L (lrnnx would return fewer than L taps).
    """
    cont = max(1, round(rate * L))
    if l_kernel is None:
        if C_is_tilde:
            raise ValueError("l_kernel is required when C_is_tilde=True "
                             "(the length C̃ was made for)")
        lk = cont
    else:
        lk = int(l_kernel)
        if lk < 1:
            raise ValueError(f"l_kernel must be >= 1, got {l_kernel}")
    while lk < cont or round(lk / rate) < L:
        lk *= 2
    return lk, round(lk / rate)
