"""The discretizations' private family: ``SPEC`` and shape rules (``_api``), the numerics
layer's array-API form (``_generic``) and the float64 oracle (``_ref``). The public functions
live in :mod:`lrnnx_array.discretization` (this package must not import it: that module imports
this one)."""
