"""datagen: scripts/create_pretraining_data.py on a corpus, run as a user runs it (a fresh process, start-up
included): instances/s (in all and per worker) and the peak memory of its whole process tree (the script
and its workers), summed RSS and summed PSS (shared pages shared out). For nyt_dish/reviews.txt
with seq 128 / dupe 5 it is compared with the recorded time of google-research/ALBERT's script for that
job (../shared/data/google_tfrecord/README.md: 28.5 s wall, one process), since TensorFlow is not
installed here.
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

from datamodules.common.errors import UserInputError
from datamodules.pretraining.corpus_pieces import (
    DEFAULT_DOCUMENTS_PER_PIECE,
    DEFAULT_MAX_PIECE_BYTES,
    max_piece_bytes_flag,
)
from lightning_modules.reporting.measurements import ProcessTreeMemory

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts",
                      "create_pretraining_data.py")

SUMMARY = "create_pretraining_data on a corpus: instances/s, peak memory of the process tree, vs Google's script"

# google-research/ALBERT's create_pretraining_data.py on nyt_dish/reviews.txt, seq 128, dupe 5, vocab
# nyt_spm.model, one process (tensorflow-cpu 2.21, 2-core machine): the recorded figure from
# ../shared/data/google_tfrecord/README.md, since TensorFlow is not installed here.
GOOGLE_DATAGEN = {"input": "nyt_dish/reviews.txt", "max_seq_length": 128, "max_predictions_per_seq": 20,
                  "dupe_factor": 5, "seconds": 28.5, "instances": 14734}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="corpus: one sentence per line, blank line between "
                                                       "documents (or FORMAT:GLOB, e.g. lines:reviews.txt)")
    parser.add_argument("--vocab", required=True, help="SentencePiece .model or WordPiece vocab.txt")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--documents_per_piece", type=int, default=DEFAULT_DOCUMENTS_PER_PIECE)
    parser.add_argument("--max_piece_bytes", type=max_piece_bytes_flag, default=DEFAULT_MAX_PIECE_BYTES,
                        help="bytes of text per piece; none: no limit, as before the flag existed")
    for name, kind, default in [("max_seq_length", int, 128), ("max_predictions_per_seq", int, 20),
                                ("dupe_factor", int, 5), ("masked_lm_prob", float, 0.15)]:
        parser.add_argument(f"--{name}", type=kind, default=default)


def google_reference(args, seconds: float) -> dict:
    """Google's recorded figure beside ours, where this run is the job it timed (else nothing)."""
    g = GOOGLE_DATAGEN
    same_job = (args.input.replace(os.sep, "/").endswith(g["input"]) and args.max_seq_length == g["max_seq_length"]
                and args.max_predictions_per_seq == g["max_predictions_per_seq"]
                and args.dupe_factor == g["dupe_factor"])
    if not same_job:
        return {}
    return {"reference": "google-research/ALBERT create_pretraining_data.py, one process: recorded figure from "
                         "../shared/data/google_tfrecord/README.md (TensorFlow is not installed here)",
            "reference_seconds": g["seconds"], "reference_instances": g["instances"],
            "reference_instances_per_s": g["instances"] / g["seconds"],
            "speedup_vs_google": g["seconds"] / seconds}  # both whole processes, start-up and imports included


def script_command(args, output: str) -> list[str]:
    vocab_flag = "--vocab_file" if args.vocab.endswith(".txt") else "--spm_model_file"
    limit = "none" if args.max_piece_bytes is None else str(args.max_piece_bytes)
    return [sys.executable, SCRIPT, "--input_file", args.input, "--output_file", output, vocab_flag, args.vocab,
            "--num_workers", str(args.workers), "--documents_per_piece", str(args.documents_per_piece),
            "--max_piece_bytes", limit, "--max_seq_length", str(args.max_seq_length),
            "--max_predictions_per_seq", str(args.max_predictions_per_seq), "--dupe_factor", str(args.dupe_factor),
            "--masked_lm_prob", str(args.masked_lm_prob), "--quiet"]


def run(args) -> dict:
    from datamodules.text.corpus_formats import expand_corpus_files

    input_mb = sum(os.path.getsize(f.path) for f in expand_corpus_files(args.input, "sentences", "--input")) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        output = os.path.join(tmp, "bench.tfrecord")
        start = time.perf_counter()
        process = subprocess.Popen(script_command(args, output), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        with ProcessTreeMemory(root=process.pid) as memory:
            try:
                _, stderr = process.communicate()
            except BaseException:  # interrupted: leave no script running (its workers end with it)
                process.terminate()
                raise
        seconds = time.perf_counter() - start
        if process.returncode:
            raise UserInputError(f"create_pretraining_data.py failed: {(stderr.strip().splitlines() or ['?'])[-1]}")
        shards = sorted(glob.glob(os.path.join(glob.escape(tmp), "*.tfrecord")))  # NAME-0000i or one NAME
        output_mb = sum(os.path.getsize(f) for f in shards) / 1e6
        instances = 0
        for shard in shards:  # the .index beside a shard holds a line per record
            with open(f"{shard}.index", "rb") as f:
                instances += sum(1 for _ in f)
    return {"benchmark": "datagen", "input": args.input, "vocab": args.vocab, "workers": args.workers,
            "max_seq_length": args.max_seq_length, "max_predictions_per_seq": args.max_predictions_per_seq,
            "dupe_factor": args.dupe_factor, "masked_lm_prob": args.masked_lm_prob,
            "documents_per_piece": args.documents_per_piece, "max_piece_bytes": args.max_piece_bytes,
            "shards": len(shards), "instances": instances, "input_mb": input_mb, "output_mb": output_mb,
            "seconds": seconds,
            "instances_per_s": instances / seconds,
            "instances_per_s_per_worker": instances / seconds / args.workers,
            "input_mb_per_s": input_mb / seconds,
            "peak_tree_rss_mb": memory.peak_rss / 1e6, "peak_tree_pss_mb": memory.peak_pss / 1e6,
            **google_reference(args, seconds)}
