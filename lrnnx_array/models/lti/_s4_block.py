"""The S4/S4D block shared by :class:`S4` and :class:`S4D` (lrnnx ``models/lti/s4.py, s4d.py``).

Layout of the block (lrnnx's, key names included): optional ``input_linear`` (bottleneck),
optional ``input_gate`` (``input_gate.0`` Linear + GELU), the convolution layer ``layer`` with
its kernel ``layer.kernel`` (S4Kernel / S4DKernel aliasing the SSM parameters), the skip ``D``,
GELU, optional ``output_gate`` (Linear, or identity when channels == gate), GELU again,
dropout, and ``output_linear`` (``output_linear.0`` Linear + activation; absent for
``final_act=None``).
"""

from __future__ import annotations

import numpy as np

from ... import _checks
from ...layers import Dropout, Linear, get_activation
from ...layers.activations import ACTIVATION_NAMES, gelu, glu
from .. import init as _init
from .._base import Module, as_host_array
from ..s4_kernel_interface import kernel_registry
from .base import LTI_LRNN

_FLAGS = ("tie_dropout", "transposed", "dt_tie", "dt_fast", "deterministic", "is_real",
          "verbose")


class _Seq(Module):
    """A Linear at key ``0`` followed by an activation (torch ``Sequential(Linear, act)``)."""

    def __init__(self, linear: Linear, act, *, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self._modules["0"] = linear
        self.act = act

    def forward(self, x):
        return self.act(self._modules["0"](x))

    def unchecked(self, x):
        """The same map on an array the owning block has validated (no per-layer checks)."""
        y = _apply_linear(self._modules["0"], x)
        act = self.act
        return glu(y, act.dim, self.xp) if act.name == "glu" else act._fn(y, self.xp)


def _apply_linear(lin, x):
    """``x W^T + b`` of ``lin`` (a :class:`Linear` or :class:`_Seq`) on a validated array:
    the block checks its input once, so its inner layers skip their own checks."""
    if isinstance(lin, _Seq):
        return lin.unchecked(x)
    xp, w = lin.xp, lin.weight
    if w.dtype != x.dtype:  # promote as Linear does
        dt = xp.result_type(x.dtype, w.dtype)
        x, w = (a if a.dtype == dt else xp.astype(a, dt) for a in (x, w))
    y = xp.matmul(x, xp.matrix_transpose(w))
    if lin.has_bias:
        y = y + (lin.bias if lin.bias.dtype == y.dtype else xp.astype(lin.bias, y.dtype))
    return y


class _Conv(Module):
    """lrnnx's ``FFTConvS4`` holder: the ``kernel`` child (its state_dict path is layer.kernel)."""

    def __init__(self, kernel, *, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.kernel = kernel


def _opt_int(name, value, minimum=1):
    if value is None:
        return None
    return _checks.check_positive_int(name, value, minimum)


class S4Block(LTI_LRNN):
    """Common constructor, forward, step and cache of S4/S4D (see :class:`S4`)."""

    _KERNEL = "s4"

    def __init__(self, d_model, bottleneck=None, gate=None, final_act="glu", postact=None,
                 dropout=0.0, tie_dropout=False, transposed=True, l_max=None, channels=1,
                 d_state=64, dt_min=1e-3, dt_max=1e-1, dt_tie=True, dt_transform="exp",
                 dt_fast=False, rank=1, n_ssm=None, init="legs", deterministic=False,
                 real_transform="exp", imag_transform="none", is_real=False, lr=None, wd=0.0,
                 verbose=True, *, disc="bilinear", seed=None, dtype=None, xp=None, device=None,
                 **layer_args):
        if layer_args:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments "
                            f"{sorted(layer_args)}")
        super().__init__(disc, seed=seed, dtype=dtype, xp=xp, device=device)
        flags = dict(tie_dropout=tie_dropout, transposed=transposed, dt_tie=dt_tie,
                     dt_fast=dt_fast, deterministic=deterministic, is_real=is_real,
                     verbose=verbose)
        for k in _FLAGS:
            _checks.check_bool(k, flags[k])
        self.d_model = self._check_dim("d_model", d_model)
        self.bottleneck = _opt_int("bottleneck", bottleneck)
        self.gate = _opt_int("gate", gate)
        if postact is not None:
            final_act = postact  # lrnnx: postact is the deprecated name of final_act
        if final_act is not None and (not isinstance(final_act, str)
                                      or final_act.lower() not in ACTIVATION_NAMES):
            raise ValueError(f"final_act must be None or one of {ACTIVATION_NAMES}, got "
                             f"{final_act!r}")
        self.final_act = final_act
        self.dropout = float(self._check_real("dropout", dropout, low=0.0, high=1.0))
        self.transposed = bool(transposed)
        self.l_max = _opt_int("l_max", l_max)
        self.channels = self._check_dim("channels", channels)
        N = self._check_dim("d_state", d_state, 2)
        if N % 2:
            raise ValueError(f"d_state must be even (N/2 conjugate pairs are stored), got {N}")
        self.d_state = N
        H = self.d_model
        if self.bottleneck is not None:
            H = H // self.bottleneck
            if H < 1:
                raise ValueError(f"bottleneck={bottleneck} leaves d_model // bottleneck = 0")
        self.H = H
        self.n_ssm = H if n_ssm is None else self._check_dim("n_ssm", n_ssm)
        if H % self.n_ssm:
            raise ValueError(f"n_ssm={self.n_ssm} must divide the SSM width {H}")
        self.rank = self._check_dim("rank", rank)
        dt_min = self._check_real("dt_min", dt_min, low=0.0, low_open=True)
        dt_max = self._check_real("dt_max", dt_max, low=dt_min)
        for name, t in (("dt_transform", dt_transform), ("real_transform", real_transform),
                        ("imag_transform", imag_transform)):
            _checks.check_option(name, t, _init.TRANSFORMS)
        if not isinstance(init, (str, list, tuple)):
            raise TypeError(f"init must be a str or a list of str, got {type(init).__name__}")
        self.init, self.is_real, self.dt_fast = init, bool(is_real), bool(dt_fast)
        self.dt_transform, self.real_transform = dt_transform, real_transform
        self.imag_transform = imag_transform
        self.lr, self.wd = lr, wd  # accepted and ignored, as in lrnnx
        self._build_params(N, dt_min, dt_max, bool(dt_tie), bool(deterministic))
        self._build_layers(bool(tie_dropout), bool(deterministic), bool(verbose), disc)

    # -- construction --------------------------------------------------------------------------

    def _build_params(self, N, dt_min, dt_max, dt_tie, deterministic):
        H, n, N2, rng = self.H, self.n_ssm, N // 2, self._rng
        inv_dt = _init.init_dt(H, N, dt_min, dt_max, dt_tie, self.dt_transform, deterministic,
                               rng=rng)
        A, P, B, C = _init.init_ssm_dplr(N, H, n, self.channels, self.rank, self.init,
                                         deterministic, rng=rng)
        if self.dt_fast:
            inv_dt = np.arcsinh(inv_dt)
        C = np.conj(C)  # lrnnx stores the conjugate of its initial C
        view = lambda z: np.stack([z.real, z.imag], axis=-1)  # noqa: E731
        self._init_param("inv_dt", inv_dt)
        self._init_param("C", C.real if self.is_real else view(C))
        self._init_param("B", (B.real if self.is_real else view(B))[None])
        self._init_param("A_real", _init.inv_transform(-A.real, self.real_transform))
        if not self.is_real:
            self._init_param("A_imag", _init.inv_transform(-A.imag, self.imag_transform))
        if self._KERNEL == "s4":
            self._init_param("P", view(P))
        self._init_param("D", rng.standard_normal((self.channels, H)))
        assert tuple(self.A_real.shape) == (n, N2)

    def _linear(self, fin, fout):
        return Linear(fin, fout, seed=self._rng, dtype=self.param_dtype, xp=self.xp,
                      device=self.device)

    def _build_layers(self, tie_dropout, deterministic, verbose, disc):
        xp, dev, H = self.xp, self.device, self.H
        gelu_act = get_activation("gelu", xp=xp, device=dev)
        if self.bottleneck is not None:
            self.input_linear = self._linear(self.d_model, H)
        if self.gate is not None:
            self.input_gate = _Seq(self._linear(H, H * self.gate), gelu_act, xp=xp, device=dev)
        cfg = {name: self._params.get(name) for name in ("A_real", "A_imag", "B", "C", "P",
                                                          "inv_dt")}
        cfg.update(store=self._params, N=self.d_state // 2, H=H, channels=self.channels,
                   rank=self.rank, repeat=H // self.n_ssm, dt_fast=self.dt_fast,
                   real_transform=self.real_transform, imag_transform=self.imag_transform,
                   dt_transform=self.dt_transform, is_real=self.is_real,
                   deterministic=deterministic, verbose=verbose, disc=disc)
        kernel = kernel_registry[self._KERNEL](H, self.l_max, self.channels, cfg, xp=xp,
                                               device=dev)
        self.layer = _Conv(kernel, xp=xp, device=dev)
        d_out = H * self.channels
        if self.gate is not None:
            if self.channels != self.gate:  # channels == gate: identity, no keys (lrnnx)
                self.output_gate = self._linear(d_out, H * self.gate)
            d_out = H * self.gate
        self.drop = Dropout(self.dropout, tie_axis=1 if tie_dropout else None, seed=self._rng,
                            xp=xp, device=dev)
        if self.final_act is not None:
            name = self.final_act.lower()
            # lrnnx's "glu" is a Linear followed by GELU (its output has d_model features)
            act = "gelu" if name == "glu" else name
            self.output_linear = _Seq(self._linear(d_out, self.d_model),
                                      get_activation(act, xp=xp, device=dev), xp=xp, device=dev)

    # -- parameters ----------------------------------------------------------------------------

    def named_parameters(self):
        """Each array once (the ``layer.kernel.*`` aliases are not repeated)."""
        seen = set()
        for name, value in super().named_parameters():
            if id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Load lrnnx keys; an alias and its top-level key must agree (they are one tensor)."""
        for key in list(state_dict):
            if key.startswith("layer.kernel.") and key[13:] in self._params and \
                    key[13:] in state_dict:
                a = as_host_array(state_dict[key], key)
                b = as_host_array(state_dict[key[13:]], key[13:])
                if a.shape != b.shape or not np.array_equal(a, b):
                    raise ValueError(f"state_dict entries {key!r} and {key[13:]!r} differ; in "
                                     "lrnnx they are the same tensor")
        if "layer.kernel.l_kernel" in state_dict:
            lk = as_host_array(state_dict["layer.kernel.l_kernel"], "layer.kernel.l_kernel")
            if lk.dtype.kind not in "iu" or lk.shape != () or int(lk) < 0:
                raise ValueError("state_dict entry 'layer.kernel.l_kernel' must be a "
                                 f"non-negative integer scalar, got {lk!r}")
        super().load_state_dict(state_dict, strict=strict)

    def _after_load(self) -> None:
        self._validate_params()
        object.__setattr__(self.layer.kernel, "_step_setup", None)

    def _validate_params(self):
        """dt > 0 where the transform does not guarantee it (checked once, not per call)."""
        if self.dt_transform == "none":
            v = self.layer.kernel.process_params()[0]
            if not bool(self.xp.all(v > 0)):
                raise ValueError("inv_dt must be positive under dt_transform='none'")

    # -- shapes and conversions ----------------------------------------------------------------

    @property
    def d_output(self) -> int:
        return self.d_model

    def _lengths_mask(self, lengths, Bn, L, rdt):
        if lengths is None:
            return None
        if isinstance(lengths, (int, np.integer)) and not isinstance(lengths, bool):
            n = int(lengths)
            if not 0 <= n <= L:
                raise ValueError(f"lengths must be in [0, L={L}], got {n}")
            if n == L:
                return None
            host = np.full((Bn,), n)
        else:
            if isinstance(lengths, (bool, float, list, tuple)):
                raise TypeError(f"lengths must be an int or an integer array of shape (B,), "
                                f"got {type(lengths).__name__}")
            host = np.asarray(as_host_array(lengths, "lengths") if not hasattr(lengths, "_array")
                              else lengths._array)
            if host.dtype.kind not in "iu":
                raise TypeError(f"lengths must have an integer dtype, got {host.dtype}")
            if host.ndim != 1 or host.shape[0] not in (1, Bn):
                raise ValueError(f"lengths must have shape ({Bn},) or (1,), got {host.shape}")
            if host.size and (host.min() < 0 or host.max() > L):
                raise ValueError(f"lengths must be in [0, L={L}], got {host.tolist()}")
            host = np.broadcast_to(host, (Bn,))
        mask = (np.arange(L)[None, :] < host[:, None]).astype(np.float64)
        return self.asarray(mask[..., None], dtype=rdt)

    def _post(self, y, v):
        """(…, channels·H) conv output + skip -> block output (…, d_model)."""
        xp = self.xp
        y = gelu(y, xp)
        if self.gate is not None:
            if "output_gate" in self._modules:
                y = _apply_linear(self.output_gate, y)
            y = y * v
        y = gelu(y, xp)
        if self.drop.training and self.drop.p > 0:
            y = self.drop(y)
        if self.final_act is not None:
            y = _apply_linear(self.output_linear, y)
        return y

    # -- forward -------------------------------------------------------------------------------

    def _as_blh(self, x):
        """Validated input in (B, L, d_model) layout, promoted to the computation dtype."""
        xp = self.xp
        layout = "(batch, d_model, L)" if self.transposed else "(batch, L, d_model)"
        self._check_array("x", x, layout)
        _checks.check_ndim("x", x, 3, layout)
        axis = 1 if self.transposed else 2
        if x.shape[axis] != self.d_model:
            raise ValueError(f"x must have shape {layout} with d_model={self.d_model}, got "
                             f"{tuple(x.shape)}")
        rdt, _ = self._dtypes(x)
        x = self._cast(x, rdt)
        return (xp.permute_dims(x, (0, 2, 1)) if self.transposed else x), rdt

    def forward(self, x, lengths=None, *, state=None, rate=1.0, integration_timesteps=None):
        """``(y, next_state)``: y like ``x``; next_state only when ``state`` is given.

        ``lengths`` (int or integer (B,)) zeroes the input at t >= lengths[b] first;
        ``integration_timesteps`` is accepted and ignored (LTI), as in lrnnx.
        """
        xp = self.xp
        x, rdt = self._as_blh(x)
        Bn, L, _ = x.shape
        mask = self._lengths_mask(lengths, Bn, L, rdt)
        if mask is not None:
            x = x * mask
        if self.bottleneck is not None:
            x = _apply_linear(self.input_linear, x)
        v = _apply_linear(self.input_gate, x) if self.gate is not None else None
        u = xp.permute_dims(x, (0, 2, 1))  # (B, H, L)
        H, c = self.H, self.channels
        next_state = None
        if L == 0:
            y = xp.zeros((Bn, 0, H * c), dtype=rdt)
        else:
            if state is not None:
                state = self._check_state(state, Bn)
            k, k_state = self._kernel(L, state, rate)
            y = ops.fft_conv_channels(u[:, None, ...], self._cast(k, rdt),
                                      check_finite=False)  # (B, c, H, L)
            if k_state is not None:
                y = y + self._cast(k_state, rdt)
                next_state = self.layer.kernel.forward_state(u, state)
            y = y + u[:, None, ...] * self._cast(self.D, rdt)[None, :, :, None]
            y = xp.permute_dims(xp.reshape(y, (Bn, c * H, L)), (0, 2, 1))
        y = self._post(y, v)
        if self.transposed:
            y = xp.permute_dims(y, (0, 2, 1))
        return y, next_state

    def _check_state(self, state, Bn):
        self._check_state_array(state)
        sizes = (self.layer.kernel.N, 2 * self.layer.kernel.N) if self._KERNEL == "s4" else \
            (self.layer.kernel.N,)
        if state.ndim != 3 or state.shape[0] != Bn or state.shape[1] != self.H or \
                state.shape[2] not in sizes:
            raise ValueError(f"state must have shape ({Bn}, {self.H}, one of {sizes}), got "
                             f"{tuple(state.shape)}")
        return state

    def _check_state_array(self, state):
        from ..._backend import namespace

        xp = namespace(state, names=("state",))
        if xp is not self.xp:
            raise TypeError("state must be an array of the model's namespace")
        _checks.check_array_dtype(xp, "state", state)

    # -- recurrence ----------------------------------------------------------------------------

    def setup_step(self, mode=None):
        """Build the kernel's recurrence (S4: 'dense' default, 'linear', 'diagonal')."""
        return self.layer.kernel.setup_step() if mode is None else \
            self.layer.kernel.setup_step(mode)

    def default_state(self, *batch_shape, device=None):
        return self.layer.kernel.default_state(*batch_shape)

    def allocate_inference_cache(self, batch_size, max_seqlen=1, dtype=None):
        """``{"lrnn_state": zeros}`` after setting up the step (S4: dense (B, H, N) by default;
        S4D: (B, H, N/2)); ``dtype`` picks the state precision (default: the parameters')."""
        b = self._check_cache_args(batch_size, max_seqlen)
        kern = self.layer.kernel
        kern.setup_step(kern._step_mode or ("dense" if self._KERNEL == "s4" else "diagonal"))
        _, cdt = self._cache_dtypes(dtype)
        return {"lrnn_state": self._cast(kern.default_state(b), cdt)}

    def step(self, x, inference_cache):
        """One token: x (B, d_model) -> ``(y (B, d_model), inference_cache)`` (cache updated)."""
        xp = self.xp
        self._check_token(x, self.d_model, inference_cache, ("lrnn_state",))
        state = inference_cache["lrnn_state"]
        kern = self.layer.kernel
        if kern._step_setup is None:
            raise ValueError("call allocate_inference_cache (or setup_step) before step")
        rdt, _ = self._dtypes(x)
        x = self._cast(x, rdt)
        if self.bottleneck is not None:
            x = _apply_linear(self.input_linear, x)
        v = _apply_linear(self.input_gate, x) if self.gate is not None else None
        y, new = kern.step(x, state)
        y = self._cast(y, rdt) + x[:, None, :] * self._cast(self.D, rdt)[None, ...]
        y = self._post(xp.reshape(y, (x.shape[0], self.channels * self.H)), v)
        inference_cache["lrnn_state"] = new if new.dtype == state.dtype else \
            xp.astype(new, state.dtype)
        return y, inference_cache

    def compute_kernel(self, L=None, state=None, rate=1.0):
        """The SSM kernel ``(k (channels, H, L), k_state)`` (what the forward convolves with)."""
        return self._kernel(L, state, rate)


from ... import ops  # noqa: E402  (after the class body: ops imports nothing from models)
