"""Models (lrnnx's ``models``): initialisers in :mod:`lrnnx_array.models.init`."""
