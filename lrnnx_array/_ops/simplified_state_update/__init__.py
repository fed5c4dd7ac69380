"""One S5 decode step: lrnnx's ``simplified_state_update`` (in-place complex state)."""

from ._api import simplified_state_update

__all__ = ["simplified_state_update"]
