#!/usr/bin/env python
"""Train a SentencePiece vocabulary with ALBERT's conventions on one or more corpus files.

ids: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4 (as albert-base-v2's spiece.model); unigram model;
google-research/ALBERT's spm_train settings. Writes PREFIX.model and PREFIX.vocab.

  python scripts/build_vocab.py --input corpus.txt --model-prefix runs/vocab/spm --vocab-size 8000
"""
import argparse
import sys

from datamodules.errors import UserInputError, exit_code_on_user_error
from datamodules.files import expand_input_files, refuse_existing
from datamodules.tokenization import train_sentencepiece


@exit_code_on_user_error
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", nargs="+", required=True, help="corpus file(s) or globs, one sentence per line")
    p.add_argument("--model-prefix", required=True, help="output path without extension")
    p.add_argument("--vocab-size", type=int, default=30000, help="pieces, special ones included (default: 30000)")
    p.add_argument("--do-lower-case", action=argparse.BooleanOptionalAction, default=True,
                   help="lower-case the text first, as create_pretraining_data --do_lower_case will (default: on)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model")
    args = p.parse_args(argv)
    if args.vocab_size < 10:
        raise UserInputError(f"--vocab-size must be at least 10, got {args.vocab_size}")
    files = expand_input_files(args.input, "--input")
    refuse_existing([f"{args.model_prefix}.model", f"{args.model_prefix}.vocab"], args.overwrite)
    if all(not line.strip() for name in files for line in open(name, encoding="utf-8")):
        raise UserInputError(f"--input {', '.join(files)}: no text (empty corpus)")
    model, vocab = train_sentencepiece(files, args.model_prefix, args.vocab_size, args.do_lower_case)
    print(f"wrote {model} and {vocab} ({args.vocab_size} pieces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
