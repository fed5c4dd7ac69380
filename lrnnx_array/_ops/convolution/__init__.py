"""Causal FFT convolutions: matrix taps, per-channel taps, and the modal SSM form (§3.10)."""

from ._api import (
    ChannelConvGrads,
    FFTConvGrads,
    fft_conv,
    fft_conv_channels,
    fft_conv_channels_vjp,
    fft_conv_vjp,
)
from ._ssm_api import SSMConvGrads, opt_ssm_forward, ssm_conv, ssm_conv_vjp

__all__ = [
    "fft_conv", "fft_conv_vjp", "FFTConvGrads",
    "fft_conv_channels", "fft_conv_channels_vjp", "ChannelConvGrads",
    "ssm_conv", "ssm_conv_vjp", "SSMConvGrads", "opt_ssm_forward",
]
