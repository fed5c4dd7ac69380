"""Linear time-invariant models (lrnnx ``models.lti``): kernels by FFT convolution, steps by
recurrence. Every class here subclasses :class:`LTI_LRNN`."""

from .base import LTI_LRNN

__all__ = ["LTI_LRNN"]
