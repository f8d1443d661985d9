#!/usr/bin/env python
"""Train a SentencePiece vocabulary with ALBERT's conventions on one or more corpus files.

ids: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4 (as albert-base-v2's spiece.model); unigram model;
google-research/ALBERT's spm_train settings. Writes PREFIX.model and PREFIX.vocab.

Input formats (--input-format, or a FORMAT: prefix on one glob):
  sentences  one sentence per line, a blank line between documents (ALBERT's format; the default)
  lines      one review per line
  csv        one review per row, in the --text-column column (header row first)
  jsonl      one JSON object per line, the review in the --text-column field
Reviews are split into sentences; empty and exactly repeated ones are skipped and counted.

  python scripts/build_vocab.py --input corpus.txt --model-prefix runs/vocab/spm --vocab-size 8000
  python scripts/build_vocab.py --input nyt.txt lines:yelp/*.txt csv:dishes.csv --model-prefix runs/vocab/spm
"""
import argparse
import sys

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.files import refuse_existing
from datamodules.common.script_flags import ScriptArgumentParser
from datamodules.text.corpus_formats import DEFAULT_TEXT_COLUMN, FORMATS, Corpus, expand_corpus_files
from datamodules.text.vocab_training import train_sentencepiece


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", nargs="+", required=True,
                   help="corpus file(s) or globs; FORMAT:GLOB reads that glob in FORMAT (e.g. lines:reviews/*.txt)")
    p.add_argument("--input-format", choices=FORMATS, default="sentences",
                   help="format of the inputs without a FORMAT: prefix (default: sentences)")
    p.add_argument("--text-column", default=DEFAULT_TEXT_COLUMN,
                   help=f"CSV column or JSONL field holding the text (default: {DEFAULT_TEXT_COLUMN})")
    p.add_argument("--model-prefix", required=True, help="output path without extension")
    p.add_argument("--vocab-size", type=int, default=30000, help="pieces, special ones included (default: 30000)")
    p.add_argument("--do-lower-case", action=argparse.BooleanOptionalAction, default=True,
                   help="lower-case the text first, as create_pretraining_data --do_lower_case will (default: on)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model")
    args = p.parse_args(argv)
    if args.vocab_size < 10:
        raise UserInputError(f"--vocab-size must be at least 10, got {args.vocab_size}")
    files = expand_corpus_files(args.input, args.input_format, "--input")
    refuse_existing([f"{args.model_prefix}.model", f"{args.model_prefix}.vocab"], args.overwrite)
    corpus = Corpus(files, args.text_column)
    model, vocab = train_sentencepiece([f.path for f in files], args.model_prefix, args.vocab_size,
                                       args.do_lower_case, sentences=corpus.sentences())
    print(f"read {corpus.counts.line()}")
    print(f"wrote {model} and {vocab} ({args.vocab_size} pieces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
