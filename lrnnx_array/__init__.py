"""lrnnx_array: linear RNNs and state-space models on the Python array API.

NumPy arrays run on the CPU (array-API code, NumPy/SciPy oracles); CuPy arrays run runtime-compiled
CUDA kernels. Importing this package imports neither cupy nor torch.
"""

from . import ops
from .ops import *  # noqa: F403

__version__ = "0.1.0"
__all__ = ["ops", "__version__", *ops.__all__]
