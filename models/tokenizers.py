"""A stand-in for SigLIP-i18n's multilingual tokenizer, for random-weights mode only.

The real tokenizer (a SentencePiece vocabulary of 250,000 pieces) ships with the pretrained
weights on the hub and cannot exist on a machine that has none. With random weights the
token ids carry no meaning anyway; what must hold is the shape contract (same vocabulary
size, same context length, padding, an end token) so the real text tower runs. This
tokenizer hashes words into the vocabulary; embedders that use it say so in `version`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from open_clip.tokenizer import canonicalize_text

PAD_ID = 0
EOS_ID = 1
FIRST_WORD_ID = 2


class HashingTokenizer:
    """Words (canonicalised as open_clip does for SigLIP) → stable hashed ids, EOS, pad."""

    label = "hash-tokenizer"

    def __init__(self, vocab_size: int, context_length: int):
        if vocab_size <= FIRST_WORD_ID:
            raise ValueError(f"vocab_size must exceed {FIRST_WORD_ID}, got {vocab_size}")
        self.vocab_size = vocab_size
        self.context_length = context_length

    def token_id(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        return FIRST_WORD_ID + int.from_bytes(digest, "little") % (self.vocab_size - FIRST_WORD_ID)

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        length = context_length or self.context_length
        tokens = torch.full((len(texts), length), PAD_ID, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.token_id(w) for w in canonicalize_text(text).split()][: length - 1]
            ids.append(EOS_ID)
            tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return tokens
