"""Shape rules shared by every implementation of the S5 scan (works for any array namespace).

Time steps are given per state, per batch row or per element and broadcast lazily:

* ``()``       one step for everything,
* ``(P,)``     one step per state (LTI S5: ``dt``),
* ``(B, L)``   event time steps shared by all states (Event-SSM's tau),
* 3-D          anything broadcastable to ``(B, P, L)`` (lrnnx's layout is the full ``(B, P, L)``).
"""

from __future__ import annotations

DISCRETIZATIONS = ("bilinear", "zoh", "dirac")
DISC_CODE = {"bilinear": 0, "zoh": 1, "dirac": 2}


def steps3(xp, d, name, Bsz, P, L):
    """View a time-step array as 3-D (b, p, l) with size-1 broadcast axes; validate the shape."""
    shape = tuple(d.shape)
    if d.ndim == 0:
        return xp.reshape(d, (1, 1, 1))
    if d.ndim == 1:
        if shape[0] not in (1, P):
            raise ValueError(f"{name} with shape {shape} must be (P,) = ({P},) per state")
        return xp.reshape(d, (1, shape[0], 1))
    if d.ndim == 2:
        if shape[0] not in (1, Bsz) or shape[1] not in (1, L):
            raise ValueError(
                f"{name} with shape {shape} must be event steps (B, L) = ({Bsz}, {L})"
            )
        return xp.reshape(d, (shape[0], 1, shape[1]))
    if d.ndim == 3:
        if any(s not in (1, t) for s, t in zip(shape, (Bsz, P, L))):
            raise ValueError(f"{name} with shape {shape} does not broadcast to (B, P, L) = "
                             f"({Bsz}, {P}, {L})")
        return d
    raise ValueError(f"{name} must have 0 to 3 dimensions, got shape {shape}")


def broadcast_shape(*shapes):
    out = []
    for dims in zip(*shapes):
        big = [d for d in dims if d != 1]
        out.append(big[0] if big else 1)
    return tuple(out)
