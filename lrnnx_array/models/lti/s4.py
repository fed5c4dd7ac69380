"""S4: the DPLR state-space block (lrnnx ``models/lti/s4.py``)."""

from __future__ import annotations

from ._s4_block import S4Block

__all__ = ["S4"]


class S4(S4Block):
    """S4 block with a diagonal-plus-low-rank SSM kernel (lrnnx ``S4``).

    Parameters
    ----------
    d_model : int
        H, the feature width.
    bottleneck, gate : int, optional
        SSM width d_model // bottleneck (``input_linear``); multiplicative gate of width
        gate·H (``input_gate`` Linear + GELU, ``output_gate`` Linear unless channels == gate).
    final_act : str or None, default "glu"
        Activation after ``output_linear``; None: no output linear. lrnnx's "glu" is GELU.
    postact : str, optional
        Deprecated name of ``final_act`` (wins when given).
    dropout : float, default 0.0
    tie_dropout : bool, default False
        One dropout mask per (batch, feature), shared along the sequence.
    transposed : bool, default True
        x is (B, H, L) if True, (B, L, H) if False; y has the layout of x.
    l_max : int, optional
        Length the C̃ of a fresh model is built for (None: the first input's length).
    channels : int, default 1
    d_state : int, default 64
        N (even; N/2 conjugate pairs are stored).
    dt_min, dt_max : float
        dt ~ log-uniform in [dt_min, dt_max].
    dt_tie : bool, default True
        One dt per feature (H, 1) or one per mode (H, N/2); per mode the SSM is
        diag(dt)(Λ - P Pᴴ) with input dt ⊙ B at a unit step, as lrnnx computes it.
    dt_transform, real_transform, imag_transform : {"none", "exp", "relu", "sigmoid",
    "softplus"}
    dt_fast : bool, default False
        Store asinh of ``inv_dt`` and apply sinh first.
    rank : int, default 1
    n_ssm : int, optional
        Independent SSM copies (default H), tiled over H.
    init : str or list of str, default "legs"
        legs, legt (rank >= 2), lagt, fourier, fout; diag-/dplr- with lin, inv, inv2, quad,
        rand, real, legs; combinations hippo, diag, all.
    deterministic : bool, default False
        dt log-spaced over H and C = V^H e_0.
    is_real : bool, default False
        Real B, C and A (no ``A_imag``); runs here (not in lrnnx).
    lr, wd : accepted and ignored, as in lrnnx.
    verbose : bool
        Accepted; nothing is printed.
    seed : int, optional
        Seed of the host ``numpy.random.default_rng`` for every initial value.
    dtype : {None, "float32", "float64"}
    xp, device : optional
        Namespace and device of the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.models.lti import S4
    >>> model = S4(d_model=8, d_state=16, l_max=64, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 8, 64)).astype(np.float32)
    >>> y, state = model(x)
    >>> y.shape, state
    ((2, 8, 64), None)
    >>> cache = model.allocate_inference_cache(2)
    >>> y_t, cache = model.step(x[:, :, 0], cache)
    >>> np.allclose(y_t, y[:, :, 0], atol=1e-5)
    True
    """

    _KERNEL = "s4"

    def __init__(self, d_model, bottleneck=None, gate=None, final_act="glu", postact=None,
                 dropout=0.0, tie_dropout=False, transposed=True, l_max=None, channels=1,
                 d_state=64, dt_min=1e-3, dt_max=1e-1, dt_tie=True, dt_transform="exp",
                 dt_fast=False, rank=1, n_ssm=None, init="legs", deterministic=False,
                 real_transform="exp", imag_transform="none", is_real=False, lr=None, wd=0.0,
                 verbose=True, *, seed=None, dtype=None, xp=None, device=None, **layer_args):
        super().__init__(d_model, bottleneck, gate, final_act, postact, dropout, tie_dropout,
                         transposed, l_max, channels, d_state, dt_min, dt_max, dt_tie,
                         dt_transform, dt_fast, rank, n_ssm, init, deterministic,
                         real_transform, imag_transform, is_real, lr, wd, verbose,
                         disc="bilinear", seed=seed, dtype=dtype, xp=xp, device=device,
                         **layer_args)

    def _kernel(self, L, state, rate):
        return self.layer.kernel(state=state, rate=rate, L=L)

    def discretize(self):
        """Dense bilinear (dA (H, N, N), dB (H, N), dC (channels, H, N)) of the SSM."""
        s = self.layer.kernel.setup_step("dense")
        return s.dA, s.dB, s.dC
