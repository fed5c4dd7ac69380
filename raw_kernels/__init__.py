"""CUDA C++ sources of lrnnx_array's kernels (package data, compiled at first use by CuPy)."""
