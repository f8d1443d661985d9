"""Training an ALBERT-convention SentencePiece vocabulary (``scripts/build_vocab.py``)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Sequence

from datamodules.common.errors import UserInputError
from datamodules.common.files import atomic_write_bytes
from datamodules.text.tokenization import SPECIAL_TOKENS, preprocess_text

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


def train_sentencepiece(
    input_files: Sequence[str], model_prefix: str, vocab_size: int, do_lower_case: bool = True,
    sentences: Iterable[str] | None = None,
) -> tuple[str, str]:
    """Train an ALBERT-convention SentencePiece model; write ``prefix.model``/``prefix.vocab`` atomically.

    It trains on ``sentences`` (one per item) when given, else on every line of ``input_files``;
    ``input_files`` name the corpus in errors either way.
    """
    import sentencepiece as spm

    def file_lines() -> Iterable[str]:
        for name in input_files:
            with open(name, encoding="utf-8") as f:
                yield from f

    failures: list[UserInputError] = []
    kept = 0

    def preprocessed() -> Iterable[str]:
        # sentencepiece turns an exception raised here into a RuntimeError with a traceback text, so a
        # bad input row is kept aside and raised as itself once training has stopped.
        nonlocal kept
        try:
            for line in sentences if sentences is not None else file_lines():
                line = preprocess_text(line, do_lower_case)
                if line:
                    kept += 1
                    yield line
        except UserInputError as e:
            failures.append(e)

    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=preprocessed(), model_writer=model, vocab_size=vocab_size,
            minloglevel=2, **ALBERT_SPM_TRAINER_ARGS,
        )
    except RuntimeError as e:
        if failures:
            raise failures[0] from None
        if not kept:
            raise UserInputError(f"{', '.join(input_files)}: no text (empty corpus)") from None
        reason = str(e).strip().split("] ")[-1]  # drop sentencepiece's source location prefix
        raise UserInputError(f"SentencePiece could not train on {', '.join(input_files)}: {reason}") from None
    if failures:
        raise failures[0]
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab_lines = "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size()))
    model_path, vocab_path = f"{model_prefix}.model", f"{model_prefix}.vocab"
    Path(model_path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(model_path, model.getvalue())
    atomic_write_bytes(vocab_path, vocab_lines.encode("utf-8"))
    return model_path, vocab_path
