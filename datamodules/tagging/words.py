"""Words over sub-word tokens: the units that labels and decoding keep whole.

A word is a maximal run of word characters (``\\w``: letters, digits, underscore, accented letters
included) or one other non-space character (punctuation, a symbol): the split of nyt_dish's BIO files
and of BERT's basic tokenizer, so "Tso's" is ``Tso`` ``'`` ``s`` and "(laksa)" is ``(`` ``laksa`` ``)``.
Tokens are grouped, never cut: a token continues the previous token's word when the two touch and the
characters on both sides of their boundary are word characters ("steam" + "boat", WordPiece's
"##boat", SentencePiece's "▁chick" + "en"). A token that itself spans several such words (a piece
like "rice,") is one unit. Whitespace-only tokens (a lone "▁") belong to no word.
"""
from __future__ import annotations

import numpy as np

NO_WORD = -1


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def word_ids(text: str, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Word index per token (0, 1, ... in text order), ``NO_WORD`` for whitespace-only tokens."""
    ids = np.full(len(offsets), NO_WORD, dtype=np.int64)
    word, previous_end = NO_WORD, None
    for i, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        joined = (previous_end == start and 0 < start < len(text)
                  and _is_word_char(text[start - 1]) and _is_word_char(text[start]))
        if not joined:
            word += 1
        ids[i], previous_end = word, end
    return ids


def is_first_subtoken(words: np.ndarray) -> np.ndarray:
    """True on the first token of each word (False on whitespace-only tokens)."""
    first = np.zeros(len(words), dtype=bool)
    real = np.flatnonzero(words != NO_WORD)
    first[real] = np.diff(words[real], prepend=NO_WORD) != 0
    return first
