"""Selective state-space decode step (lrnnx's Triton ``selective_state_update``), spec §3.6."""

from ._api import selective_state_update

__all__ = ["selective_state_update"]
