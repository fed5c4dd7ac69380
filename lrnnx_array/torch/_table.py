"""The one table of the bridge: which public op becomes which ``torch.autograd.Function``.

No torch here (this module is imported by the test suite's module walk on machines without
torch). Each row names a public function of :mod:`lrnnx_array.ops` and its VJP; the Functions
are generated from these rows by :mod:`lrnnx_array.torch._functions`, so a new op is one row.
"""

from __future__ import annotations

from typing import NamedTuple


class OpRow(NamedTuple):
    """One differentiable op of the bridge.

    name : the public op in :mod:`lrnnx_array.ops`.
    vjp : its VJP there (``vjp(dout, *op_args, **op_kwargs)``, a NamedTuple of ``d<arg>``).
    arrays : the array arguments, in signature order (torch tensors there are the Function's
        inputs; the gradient of argument ``x`` is field ``d<x>`` of the VJP's result).
    second : where the cotangent of a second output goes: a keyword of the VJP
        (``"dlast_state"``, ``"dfinal_states"``), ``"pair"`` when the VJP takes ``(dout0,
        dout1)`` as its first argument, or None for single-output ops.
    """

    name: str
    vjp: str
    arrays: tuple[str, ...]
    second: str | None = None


class StepRow(NamedTuple):
    """A public function without a VJP (decode steps, set-ups): converted, never differentiated.

    inplace : the arguments it overwrites (copied back when the tensor had to be copied).
    """

    name: str
    inplace: tuple[str, ...] = ()


OPS = (
    OpRow("diag_scan", "diag_scan_vjp", ("a", "b", "h0")),
    OpRow("selective_scan", "selective_scan_vjp",
          ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "deltaA", "h0"), "dlast_state"),
    OpRow("rglru_scan", "rglru_scan_vjp", ("u", "delta", "A", "h0"), "dlast_state"),
    OpRow("s7_scan", "s7_scan_vjp", ("u", "A", "B", "C", "bias", "h0"), "dlast_state"),
    OpRow("simplified_scan", "simplified_scan_vjp",
          ("u", "delta", "A", "B", "C", "deltaA", "h0"), "dlast_state"),
    OpRow("s5_inner", "s5_inner_vjp", ("u", "delta", "A", "B", "C", "D", "deltaA", "h0")),
    OpRow("cauchy", "cauchy_vjp", ("v", "z", "w")),
    OpRow("log_vandermonde", "log_vandermonde_vjp", ("v", "x")),
    OpRow("log_vandermonde_transpose", "log_vandermonde_transpose_vjp", ("u", "v", "x")),
    OpRow("power", "power_vjp", ("A", "v"), "pair"),
    OpRow("discretize", "discretize_vjp", ("A", "delta", "integration_timesteps"), "pair"),
    OpRow("fft_conv", "fft_conv_vjp", ("x", "k")),
    OpRow("fft_conv_channels", "fft_conv_channels_vjp", ("u", "k")),
    OpRow("ssm_conv", "ssm_conv_vjp", ("x", "K", "B_bar", "C")),
    OpRow("opt_ssm_forward", "ssm_conv_vjp", ("x", "K", "B_bar", "C")),
    OpRow("causal_conv1d", "causal_conv1d_vjp", ("x", "weight", "bias", "initial_states"),
          "dfinal_states"),
    OpRow("dplr_kernel", "dplr_kernel_vjp", ("A", "B", "C", "P", "dt", "state"), "pair"),
    OpRow("s4d_kernel", "s4d_kernel_vjp", ("A", "B", "C", "dt", "state"), "pair"),
    OpRow("s4d_forward_state", "s4d_forward_state_vjp", ("u", "state", "dA", "dB")),
)

STEPS = (
    StepRow("selective_state_update", ("state",)),
    StepRow("simplified_state_update", ("state",)),
    StepRow("causal_conv1d_update", ("conv_state",)),
    StepRow("dplr_step"),
    StepRow("s4d_step"),
    StepRow("dplr_step_setup"),
    StepRow("s4d_step_setup"),
    StepRow("dplr_default_state"),
    StepRow("dplr_forward_state"),
    StepRow("dplr_dense"),
    StepRow("c_tilde"),
    StepRow("c_from_tilde"),
    StepRow("double_length"),
)

OP_ROWS = {r.name: r for r in OPS}
STEP_ROWS = {r.name: r for r in STEPS}


def function_name(op: str) -> str:
    """``selective_scan`` -> ``SelectiveScanFunction`` (the generated class's name)."""
    return "".join(p.capitalize() if not p[:1].isupper() else p for p in op.split("_")) + "Function"
