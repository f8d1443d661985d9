#!/usr/bin/env python
"""Corpus -> TFRecords of ALBERT pretraining instances (n-gram masked LM + sentence order), no TensorFlow.

Same input format, flag names and output features as google-research/ALBERT's
create_pretraining_data.py (one sentence per line, a blank line between documents), plus
--num_workers, an .index and a .lengths file per shard, a summary line, and review corpora:

Input formats (--input_format, or a FORMAT: prefix on one glob of --input_file):
  sentences  one sentence per line, a blank line between documents (Google's format; the default)
  lines      one review (document) per line
  csv        one review per row, in the --text_column column (header row first; quoted newlines allowed)
  jsonl      one JSON object per line, the review in the --text_column field
Reviews are split into sentences by rule; empty and exactly repeated reviews are skipped and counted
in the summary line. No segment runs across two documents.

The corpus is streamed in pieces of at most --documents_per_piece documents and --max_piece_bytes bytes of
text (never across two input files), each made into its own shard, NAME-00017.tfrecord for piece 17:
memory stays flat whatever the corpus size. --num_tasks N --task_index I (default: from
SLURM_ARRAY_TASK_COUNT / SLURM_ARRAY_TASK_ID, see scripts/cluster/create_data.slurm) make only pieces
I, I+N, I+2N, ...; the tasks' shards together are one run's. A rerun skips shards already complete, so
a killed task is resumed by running it again.
OUTPUT_FILE.settings.json beside the shards records the settings that change their bytes; a rerun with other
settings stops with an error (--overwrite makes the shards again).

  python scripts/create_pretraining_data.py --input_file corpus.txt --output_file runs/data/train.tfrecord \\
      --spm_model_file runs/vocab/spm.model --max_seq_length 128 --max_predictions_per_seq 20 --dupe_factor 5
  python scripts/create_pretraining_data.py --input_file 'nyt.txt,lines:yelp/*.txt,csv:dishes.csv' ...
"""
import argparse
import sys

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.script_flags import ScriptArgumentParser
from datamodules.pretraining.corpus_pieces import (
    DEFAULT_DOCUMENTS_PER_PIECE,
    DEFAULT_MAX_PIECE_BYTES,
    max_piece_bytes_flag,
    slurm_array_task,
)
from datamodules.pretraining.data_creation import create_pretraining_data
from datamodules.pretraining.instances import MaskingConfig
from datamodules.text.corpus_formats import DEFAULT_TEXT_COLUMN, FORMATS


def str2bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "y"):
        return True
    if value.lower() in ("0", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def bool_flag(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """absl-style boolean: --name, --name=false, --noname."""
    parser.add_argument(f"--{name}", type=str2bool, nargs="?", const=True, default=default,
                        help=f"{help} (default: {default})")
    parser.add_argument(f"--no{name}", dest=name, action="store_false", help=argparse.SUPPRESS)


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input_file", required=True,
                   help="input file(s): globs, comma-separated; FORMAT:GLOB reads that glob in FORMAT")
    p.add_argument("--input_format", choices=FORMATS, default="sentences",
                   help="format of the inputs without a FORMAT: prefix (default: sentences)")
    p.add_argument("--text_column", default=DEFAULT_TEXT_COLUMN,
                   help=f"CSV column or JSONL field holding the text (default: {DEFAULT_TEXT_COLUMN})")
    p.add_argument("--output_file", required=True,
                   help="output name: piece i is written to NAME-0000i.tfrecord (with .index and .lengths)")
    p.add_argument("--spm_model_file", help="SentencePiece model (ALBERT's tokenizer)")
    p.add_argument("--vocab_file", help="WordPiece vocab.txt, used when --spm_model_file is not given")
    bool_flag(p, "do_lower_case", True, "lower-case the input text")
    bool_flag(p, "do_whole_word_mask", True, "mask whole words, never single word pieces")
    bool_flag(p, "favor_shorter_ngram", True, "p(n) proportional to 1/n rather than to n")
    p.add_argument("--max_seq_length", type=int, default=512, help="tokens per instance (default: 512)")
    p.add_argument("--max_predictions_per_seq", type=int, default=20,
                   help="masked positions per instance (default: 20)")
    p.add_argument("--masked_lm_prob", type=float, default=0.15, help="share of tokens masked (default: 0.15)")
    p.add_argument("--dupe_factor", type=int, default=40,
                   help="passes over the corpus, masked differently (default: 40)")
    p.add_argument("--short_seq_prob", type=float, default=0.1,
                   help="probability of a shorter target length (default: 0.1)")
    p.add_argument("--ngram", type=int, default=3, help="longest masked n-gram, in words (default: 3)")
    p.add_argument("--random_seed", type=int, default=12345, help="seed: same seed, same files (default: 12345)")
    p.add_argument("--num_workers", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--documents_per_piece", type=int, default=DEFAULT_DOCUMENTS_PER_PIECE,
                   help="most documents per piece, i.e. per shard; memory grows with a piece's text "
                        f"(default: {DEFAULT_DOCUMENTS_PER_PIECE})")
    p.add_argument("--max_piece_bytes", type=max_piece_bytes_flag, default=DEFAULT_MAX_PIECE_BYTES,
                   help="most bytes of text per piece, whichever limit comes first; a longer document is a piece "
                        f"alone; none: no limit, as before this flag (default: {DEFAULT_MAX_PIECE_BYTES})")
    num_tasks, task_index = slurm_array_task()
    p.add_argument("--num_tasks", type=int, default=num_tasks,
                   help=f"machines sharing the pieces (default: SLURM_ARRAY_TASK_COUNT, else 1; here {num_tasks})")
    p.add_argument("--task_index", type=int, default=task_index,
                   help=f"which of them this is, from 0 (default: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, else 0; "
                        f"here {task_index})")
    p.add_argument("--overwrite", action="store_true",
                   help="remove this task's shards and make them again, whatever settings made them "
                        "(without it, a rerun stops if OUTPUT_FILE.settings.json records other settings)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    tokenizer = args.spm_model_file or args.vocab_file
    if not tokenizer:
        raise UserInputError("give --spm_model_file (SentencePiece) or --vocab_file (WordPiece vocab.txt)")
    cfg = MaskingConfig(
        max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        masked_lm_prob=args.masked_lm_prob, short_seq_prob=args.short_seq_prob, ngram=args.ngram,
        favor_shorter_ngram=args.favor_shorter_ngram, do_whole_word_mask=args.do_whole_word_mask,
    )
    summary = create_pretraining_data(
        args.input_file, args.output_file, tokenizer, cfg, do_lower_case=args.do_lower_case,
        dupe_factor=args.dupe_factor, random_seed=args.random_seed, num_workers=args.num_workers,
        documents_per_piece=args.documents_per_piece, max_piece_bytes=args.max_piece_bytes,
        num_tasks=args.num_tasks, task_index=args.task_index,
        overwrite=args.overwrite, progress=not args.quiet,
        input_format=args.input_format, text_column=args.text_column,
    )
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
