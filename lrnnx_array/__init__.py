"""lrnnx_array: linear RNNs and state-space models on the Python array API.

NumPy arrays run on the CPU (array-API code, NumPy/SciPy oracles); CuPy arrays run runtime-compiled
CUDA kernels. Importing this package imports neither cupy nor torch.

Public namespaces: :mod:`lrnnx_array.ops` (the functional ops and their VJPs),
:mod:`lrnnx_array.discretization` (lrnnx's ``core.discretization``), :mod:`lrnnx_array.models`,
:mod:`lrnnx_array.testing` (oracle comparison helpers), :mod:`lrnnx_array.layers` (Linear, norms,
Block, GatedMLP, MHA), :mod:`lrnnx_array.architectures` (language model, classifier, U-Net),
:mod:`lrnnx_array.generation` (autoregressive ``generate``).
"""

from . import architectures, discretization, generation, layers, models, ops

__version__ = "0.1.0"
__all__ = ["ops", "discretization", "models", "layers", "architectures", "generation",
           "__version__"]


def __dir__():
    # Submodules bind themselves as attributes on import; list only the public namespaces.
    return list(__all__)
