"""Architectures built from the models (lrnnx ``architectures``).

:class:`LRNNModel` / :class:`LRNNLMHeadModel` (a Mamba-style language model over any mix of
mixers, attention included, with decoding caches and ``save_pretrained``/``from_pretrained``),
:class:`Classifier` (:class:`ClassifierBlock`, :class:`SequencePooling`,
:class:`TokenEmbedding`) and :class:`LRUUnet`.
"""

from ._common import mixer_registry
from .classifier import Classifier, ClassifierBlock
from .embedding import PositionEmbedding, TokenEmbedding
from .language_model import CausalLMOutput, LRNNLMHeadModel, LRNNModel
from .lru_unet import LRUUnet
from .pooling import SequencePooling

__all__ = ["CausalLMOutput", "Classifier", "ClassifierBlock", "LRNNLMHeadModel", "LRNNModel",
           "LRUUnet", "PositionEmbedding", "SequencePooling", "TokenEmbedding", "mixer_registry"]
