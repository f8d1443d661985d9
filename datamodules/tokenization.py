"""Tokenizer loading, training and checks, shared by every stage.

Two vocabularies are accepted wherever a tokenizer is taken:
- a SentencePiece ``.model`` (ALBERT's own tokenizer), encoded with ``sentencepiece`` directly and
  pre-processed exactly like google-research/ALBERT's ``tokenization.preprocess_text``;
- a WordPiece ``vocab.txt`` (BERT style, e.g. the seed's ``models_toy/vocab.txt``), through
  transformers' ``BertTokenizerFast``.
"""
from __future__ import annotations

import io
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from datamodules.errors import UserInputError
from datamodules.files import atomic_write_bytes

SPIECE_UNDERLINE = "\u2581"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")
# Google's _is_start_piece_sp: punctuation pieces start a new word for whole-word masking.
_PUNCTUATION_PIECES = set('!"#$%&"()*+,-./:;?@[\\]^_`{|}~')
# ALBERT's spm_train flags (google-research/ALBERT README): ids pad 0, unk 1, [CLS] 2, [SEP] 3, [MASK] 4.
ALBERT_SPM_TRAINER_ARGS = dict(
    model_type="unigram",
    pad_id=0,
    unk_id=1,
    bos_id=-1,
    eos_id=-1,
    pad_piece="<pad>",
    unk_piece="<unk>",
    control_symbols=list(SPECIAL_TOKENS),
    user_defined_symbols=["(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac"],
    shuffle_input_sentence=True,
    input_sentence_size=10_000_000,
    character_coverage=0.99995,
    hard_vocab_limit=True,
)


def preprocess_text(text: str, lower: bool) -> str:
    """google-research/ALBERT ``preprocess_text``: collapse spaces, normalise quotes, strip accents."""
    text = " ".join(text.strip().split())
    text = text.replace("``", '"').replace("''", '"')
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower() if lower else text


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

    def token_id(self, token: str) -> int:
        return self.vocab.index(token)

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


def train_sentencepiece(
    input_files: Sequence[str], model_prefix: str, vocab_size: int, do_lower_case: bool = True
) -> tuple[str, str]:
    """Train an ALBERT-convention SentencePiece model; write ``prefix.model``/``prefix.vocab`` atomically."""
    import sentencepiece as spm

    def sentences() -> Iterable[str]:
        for name in input_files:
            with open(name, encoding="utf-8") as f:
                for line in f:
                    line = preprocess_text(line, do_lower_case)
                    if line:
                        yield line

    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences()), model_writer=model, vocab_size=vocab_size,
            minloglevel=2, **ALBERT_SPM_TRAINER_ARGS,
        )
    except RuntimeError as e:
        reason = str(e).strip().split("] ")[-1]  # drop sentencepiece's source location prefix
        raise UserInputError(f"SentencePiece could not train on {', '.join(input_files)}: {reason}") from None
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab_lines = "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size()))
    model_path, vocab_path = f"{model_prefix}.model", f"{model_prefix}.vocab"
    Path(model_path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(model_path, model.getvalue())
    atomic_write_bytes(vocab_path, vocab_lines.encode("utf-8"))
    return model_path, vocab_path

