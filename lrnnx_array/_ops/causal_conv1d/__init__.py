"""Depthwise causal 1-D convolution along time (Mamba's and RG-LRU's short conv), with a step."""

from ._api import CausalConv1dGrads, causal_conv1d, causal_conv1d_update, causal_conv1d_vjp

__all__ = ["causal_conv1d", "causal_conv1d_vjp", "causal_conv1d_update", "CausalConv1dGrads"]
