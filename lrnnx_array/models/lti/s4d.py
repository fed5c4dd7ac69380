"""S4D: the diagonal state-space block (lrnnx ``models/lti/s4d.py``)."""

from __future__ import annotations

from ._s4_block import S4Block

__all__ = ["S4D"]


class S4D(S4Block):
    """S4D block: the S4 block with a diagonal SSM (lrnnx ``S4D``).

    Parameters are those of :class:`S4` (``rank`` is accepted and has no effect: there is no
    ``P``), plus ``disc``.

    Parameters
    ----------
    d_model, bottleneck, gate, final_act, postact, dropout, tie_dropout, transposed, l_max,
    channels, d_state, dt_min, dt_max, dt_tie, dt_transform, dt_fast, rank, n_ssm, init,
    deterministic, real_transform, imag_transform, is_real, lr, wd, verbose
        As for :class:`S4`.
    disc : {"zoh", "bilinear"}, default "zoh"
        Discretization of the diagonal SSM.
    seed, dtype, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import S4D
    >>> model = S4D(d_model=8, d_state=16, transposed=False, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 32, 8)).astype(np.float32)
    >>> y, _ = model(x)
    >>> cache = model.allocate_inference_cache(2)
    >>> y_t, cache = model.step(x[:, 0], cache)
    >>> y.shape, np.allclose(y_t, y[:, 0], atol=1e-5)
    ((2, 32, 8), True)
    """

    _KERNEL = "s4d"

    def __init__(self, d_model, bottleneck=None, gate=None, final_act="glu", postact=None,
                 dropout=0.0, tie_dropout=False, transposed=True, l_max=None, channels=1,
                 d_state=64, dt_min=1e-3, dt_max=1e-1, dt_tie=True, dt_transform="exp",
                 dt_fast=False, rank=1, n_ssm=None, init="legs", deterministic=False,
                 real_transform="exp", imag_transform="none", is_real=False, lr=None, wd=0.0,
                 verbose=True, disc="zoh", *, seed=None, dtype=None, xp=None, device=None,
                 **layer_args):
        if disc not in ("zoh", "bilinear"):
            raise ValueError(f"disc must be 'zoh' or 'bilinear', got {disc!r}")
        super().__init__(d_model, bottleneck, gate, final_act, postact, dropout, tie_dropout,
                         transposed, l_max, channels, d_state, dt_min, dt_max, dt_tie,
                         dt_transform, dt_fast, rank, n_ssm, init, deterministic,
                         real_transform, imag_transform, is_real, lr, wd, verbose,
                         disc=disc, seed=seed, dtype=dtype, xp=xp, device=device,
                         **layer_args)
        self.disc = disc

    def _kernel(self, L, state, rate):
        if L is None:
            raise ValueError("S4D kernels need L")
        return self.layer.kernel(L, state=state, rate=rate)

    def discretize(self):
        """Diagonal (dA = Ā (H, N/2), dB = B̄ (H, N/2), dC = C (channels, H, N/2))."""
        s = self.layer.kernel.setup_step()
        return s.dA, s.dB, s.dC
