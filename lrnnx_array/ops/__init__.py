"""The functional ops, flat: each differentiable ``op`` has an ``op_vjp``.

Every name here is a function or a result ``NamedTuple``; the implementations live in the private
``lrnnx_array._ops`` package. The discretizations are also a module of their own,
:mod:`lrnnx_array.discretization`.
"""

from .._ops.cauchy import CauchyGrads, cauchy, cauchy_vjp
from .._ops.causal_conv1d import (
    CausalConv1dGrads,
    causal_conv1d,
    causal_conv1d_update,
    causal_conv1d_vjp,
)
from .._ops.convolution import (
    ChannelConvGrads,
    FFTConvGrads,
    SSMConvGrads,
    fft_conv,
    fft_conv_channels,
    fft_conv_channels_vjp,
    fft_conv_vjp,
    opt_ssm_forward,
    ssm_conv,
    ssm_conv_vjp,
)
from .._ops.diag_scan import DiagScanGrads, diag_scan, diag_scan_vjp
from .._ops.dplr_kernel import (
    DenseStep,
    DiagonalStep,
    DPLRKernelGrads,
    DPLRKernelOut,
    LinearStep,
    c_from_tilde,
    c_tilde,
    double_length,
    dplr_default_state,
    dplr_dense,
    dplr_forward_state,
    dplr_kernel,
    dplr_kernel_vjp,
    dplr_step,
    dplr_step_setup,
)
from .._ops.log_vandermonde import (
    LogVandermondeGrads,
    LogVandermondeTransposeGrads,
    log_vandermonde,
    log_vandermonde_transpose,
    log_vandermonde_transpose_vjp,
    log_vandermonde_vjp,
)
from .._ops.power import PowerGrads, power, power_vjp
from .._ops.rglru_scan import RGLRUScanGrads, rglru_scan, rglru_scan_vjp
from .._ops.s4d_kernel import (
    S4DForwardStateGrads,
    S4DKernelGrads,
    S4DKernelOut,
    S4DStep,
    s4d_forward_state,
    s4d_forward_state_vjp,
    s4d_kernel,
    s4d_kernel_vjp,
    s4d_step,
    s4d_step_setup,
)
from .._ops.s7_scan import S7ScanGrads, s7_scan, s7_scan_vjp
from .._ops.selective_scan import SelectiveScanGrads, selective_scan, selective_scan_vjp
from .._ops.selective_state_update import selective_state_update
from .._ops.simplified_scan import (
    S5InnerGrads,
    SimplifiedScanGrads,
    s5_inner,
    s5_inner_vjp,
    simplified_scan,
    simplified_scan_vjp,
)
from .._ops.simplified_state_update import simplified_state_update
from ..discretization import DiscretizeGrads, discretize, discretize_vjp

__all__ = [
    "diag_scan", "diag_scan_vjp", "DiagScanGrads",
    "discretize", "discretize_vjp", "DiscretizeGrads",
    "cauchy", "cauchy_vjp", "CauchyGrads",
    "log_vandermonde", "log_vandermonde_vjp", "LogVandermondeGrads",
    "log_vandermonde_transpose", "log_vandermonde_transpose_vjp", "LogVandermondeTransposeGrads",
    "power", "power_vjp", "PowerGrads",
    "fft_conv", "fft_conv_vjp", "FFTConvGrads", "fft_conv_channels", "fft_conv_channels_vjp",
    "ChannelConvGrads", "ssm_conv", "ssm_conv_vjp", "SSMConvGrads", "opt_ssm_forward",
    "dplr_kernel", "dplr_kernel_vjp", "DPLRKernelGrads", "DPLRKernelOut", "dplr_dense",
    "c_tilde", "c_from_tilde", "double_length",
    "dplr_step_setup", "dplr_step", "dplr_default_state", "dplr_forward_state",
    "DenseStep", "LinearStep", "DiagonalStep",
    "selective_scan", "selective_scan_vjp", "SelectiveScanGrads",
    "rglru_scan", "rglru_scan_vjp", "RGLRUScanGrads", "s7_scan", "s7_scan_vjp", "S7ScanGrads",
    "selective_state_update",
    "simplified_scan", "simplified_scan_vjp", "SimplifiedScanGrads",
    "s5_inner", "s5_inner_vjp", "S5InnerGrads", "simplified_state_update",
    "s4d_kernel", "s4d_kernel_vjp", "S4DKernelGrads", "s4d_forward_state_vjp",
    "S4DForwardStateGrads", "S4DKernelOut", "s4d_step_setup", "s4d_step", "S4DStep",
    "s4d_forward_state",
    "causal_conv1d", "causal_conv1d_vjp", "causal_conv1d_update", "CausalConv1dGrads",
]

# torch tensors route to the optional bridge, lrnnx_array.torch (issue 17): one wrapper per
# function, see lrnnx_array._dispatch.route_torch.
from .._dispatch import route_torch_in as _route_torch_in  # noqa: E402

_route_torch_in(globals(), __all__)
del _route_torch_in
