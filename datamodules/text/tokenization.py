"""Tokenizer loading, encoding and checks, shared by every stage (training a vocabulary: ``vocab_training``;
a tokenizer carried in checkpoints: ``tokenizer_state``).

Two vocabularies are accepted wherever a tokenizer is taken:
- a SentencePiece ``.model`` (ALBERT's own tokenizer), encoded with ``sentencepiece`` directly and
  pre-processed exactly like google-research/ALBERT's ``tokenization.preprocess_text``;
- a WordPiece ``vocab.txt`` (BERT style, e.g. the seed's ``models_toy/vocab.txt``), through
  transformers' ``BertTokenizerFast``.
"""
from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from datamodules.common.errors import UserInputError

SPIECE_UNDERLINE = "\u2581"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")
# Google's _is_start_piece_sp: punctuation pieces start a new word for whole-word masking.
_PUNCTUATION_PIECES = set('!"#$%&"()*+,-./:;?@[\\]^_`{|}~')


def preprocess_text(text: str, lower: bool) -> str:
    """google-research/ALBERT ``preprocess_text``: collapse spaces, normalise quotes, strip accents."""
    text = " ".join(text.strip().split())
    text = text.replace("``", '"').replace("''", '"')
    if not text.isascii():  # ASCII text has no accents to strip: skip the per-character pass
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower() if lower else text


def normalize_with_alignment(text: str, lower: bool) -> tuple[str, list[int]]:
    """``preprocess_text`` that also returns, for each output character, its index in ``text``.

    Done character by character so that token offsets can be mapped back to the original text.
    """
    out: list[str] = []
    origin: list[int] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                origin.append(i)
        elif text.startswith("``", i) or text.startswith("''", i):
            out.append('"')
            origin.append(i)
            i += 1
        else:
            for d in unicodedata.normalize("NFKD", c):
                if not unicodedata.combining(d):
                    for e in (d.lower() if lower else d):
                        out.append(e)
                        origin.append(i)
        i += 1
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


@dataclass
class Tokenizer:
    """A loaded vocabulary: encode lines to ids, plus what masking needs to know about each id."""

    path: str
    kind: str  # "sentencepiece" | "wordpiece"
    do_lower_case: bool
    vocab: list[str]
    is_start_piece: np.ndarray  # bool per id: does this piece begin a word (whole-word masking)?
    _backend: object

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def cls_id(self) -> int:
        return self._special["[CLS]"]

    @property
    def sep_id(self) -> int:
        return self._special["[SEP]"]

    @property
    def mask_id(self) -> int:
        return self._special["[MASK]"]

    def __post_init__(self) -> None:
        index = {piece: i for i, piece in enumerate(self.vocab)}
        missing = [t for t in SPECIAL_TOKENS if t not in index]
        if missing:
            raise UserInputError(f"{self.path}: vocabulary lacks the special token(s) {', '.join(missing)}")
        self._special = {t: index[t] for t in SPECIAL_TOKENS}
        if self.kind == "sentencepiece":
            # Google's encode_pieces re-splits pieces like "1," so digits and the comma separate.
            self._digit_comma = np.array(
                [len(p) > 1 and p[-1] == "," and p[-2].isdigit() for p in self.vocab], dtype=bool
            )

    def encode_lines(self, lines: Sequence[str]) -> list[list[int]]:
        """Token ids of each line (no special tokens), as Google's create_pretraining_data makes them."""
        if self.kind == "wordpiece":
            lines = [line.strip() for line in lines]
            return self._backend(lines, add_special_tokens=False)["input_ids"] if lines else []
        lines = [preprocess_text(line, self.do_lower_case) for line in lines]
        encoded = self._backend.encode(lines)
        return [self._fix_digit_comma(ids) if self._digit_comma[ids].any() else ids for ids in encoded]

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids (as ``encode_lines``) and each token's (start, end) in ``text``, whitespace excluded."""
        if self.kind == "wordpiece":
            enc = self._backend(text, add_special_tokens=False, return_offsets_mapping=True)
            return enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]]
        normalized, origin = normalize_with_alignment(text, self.do_lower_case)
        char_of_byte = [i for i, c in enumerate(normalized) for _ in c.encode("utf-8")] + [len(normalized)]
        ids, offsets = [], []
        for piece in self._backend.encode(normalized, return_type="proto").pieces:
            start, end = char_of_byte[piece.begin], char_of_byte[piece.end]
            while start < end and normalized[start] == " ":
                start += 1
            parts = [piece.id]
            if self._digit_comma[piece.id]:
                parts = self._fix_digit_comma([piece.id])
            # Split the piece's characters over its parts by their lengths (only "12," -> "12" "," splits).
            lengths = [len(self.vocab[p].lstrip(SPIECE_UNDERLINE)) for p in parts]
            cursor = start
            for k, (part, length) in enumerate(zip(parts, lengths)):
                stop = end if k == len(parts) - 1 else min(end, cursor + length)
                ids.append(part)
                offsets.append(_original_span(origin, cursor, stop, len(text)))
                cursor = stop
        return ids, offsets

    def _fix_digit_comma(self, ids: list[int]) -> list[int]:
        out: list[int] = []
        for i in ids:
            piece = self.vocab[i]
            if not self._digit_comma[i]:
                out.append(i)
                continue
            sub = self._backend.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
            if piece[0] != SPIECE_UNDERLINE and sub and sub[0].startswith(SPIECE_UNDERLINE):
                sub = sub[1:] if len(sub[0]) == 1 else [sub[0][1:]] + sub[1:]
            out.extend(self._backend.piece_to_id(p) for p in sub + [","])
        return out


def _original_span(origin: list[int], start: int, end: int, text_length: int) -> tuple[int, int]:
    """Normalized [start, end) -> original [start, end); an empty span stays empty."""
    if start >= end:
        position = origin[start] if start < len(origin) else text_length
        return position, position
    return origin[start], origin[end - 1] + 1


def _sentencepiece_start_piece(piece: str) -> bool:
    return piece.startswith(SPIECE_UNDERLINE) or piece.startswith("<") or piece in _PUNCTUATION_PIECES


def load_tokenizer(path: str | os.PathLike, do_lower_case: bool = True) -> Tokenizer:
    """Load a SentencePiece ``.model`` or a WordPiece ``vocab.txt``; raise UserInputError if unusable."""
    path = str(path)
    if not os.path.isfile(path):
        raise UserInputError(f"tokenizer file {path} does not exist (expected a SentencePiece .model or a vocab.txt)")
    with open(path, "rb") as f:
        head = f.read(4096)
    if path.endswith(".model") or b"\x00" in head:
        import sentencepiece as spm

        try:
            sp = spm.SentencePieceProcessor(model_file=path)
        except (RuntimeError, OSError) as e:
            raise UserInputError(f"{path}: not a readable SentencePiece model ({str(e).splitlines()[0]})") from None
        vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        starts = np.array([_sentencepiece_start_piece(p) for p in vocab], dtype=bool)
        return Tokenizer(path, "sentencepiece", do_lower_case, vocab, starts, sp)
    from transformers import BertTokenizerFast  # transformers 5: the fast one; `vocab=` (a `vocab_file=` is ignored)

    with open(path, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    if not any(vocab):
        raise UserInputError(f"{path}: empty vocabulary file")
    backend = BertTokenizerFast(vocab=path, do_lower_case=do_lower_case)
    starts = np.array([not p.startswith("##") for p in vocab], dtype=bool)
    return Tokenizer(path, "wordpiece", do_lower_case, vocab, starts, backend)
