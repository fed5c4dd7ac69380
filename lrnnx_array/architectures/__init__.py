"""Architectures built from the models (lrnnx ``architectures``).

:class:`LRNNModel` / :class:`LRNNLMHeadModel` (a Mamba-style language model over any mix of
mixers, attention included, with decoding caches and ``save_pretrained``/``from_pretrained``),
:class:`Classifier` (:class:`ClassifierBlock`, :class:`SequencePooling`,
:class:`TokenEmbedding`) and :class:`LRUUnet`.
"""

from ._common import mixer_registry
from .language_model import CausalLMOutput, LRNNLMHeadModel, LRNNModel

__all__ = ["CausalLMOutput", "LRNNLMHeadModel", "LRNNModel", "mixer_registry"]
