"""Linear time-invariant models (lrnnx ``models.lti``): kernels by FFT convolution, steps by
recurrence. Every class here subclasses :class:`LTI_LRNN`."""

from .base import LTI_LRNN
from .centaurus import (
    Centaurus,
    CentaurusBase,
    CentaurusDWS,
    CentaurusFull,
    CentaurusNeck,
    CentaurusPWNeck,
)
from .lru import LRU
from .s4 import S4
from .s4d import S4D
from .s5 import S5

__all__ = [
    "LTI_LRNN", "S4", "S4D", "S5", "LRU", "Centaurus", "CentaurusBase", "CentaurusNeck",
    "CentaurusPWNeck",
    "CentaurusDWS", "CentaurusFull",
]
