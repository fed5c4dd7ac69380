"""Private implementations of the functional ops, one folder per op family.

Each family holds ``_api`` (public function, docstring, validation), ``_ref`` (NumPy float64
oracle), ``_generic`` (array-API fast path), ``_cuda`` (launchers of ``raw_kernels/<op>.cu``),
``_selfcheck`` and ``_bench``. The public face is :mod:`lrnnx_array.ops`; these folders are
private so that no public function shadows the package it lives in.
"""
