#!/usr/bin/env python
"""Benchmarks: the project's own code paths beside a reference, in one process, JSON out.

  python scripts/benchmark.py pretrain                          # synthetic full-length batches, fp32
  python scripts/benchmark.py pretrain --precision bf16-mixed
  python scripts/benchmark.py pretrain --data ../shared/data/google_tfrecord/reviews_train.tfrecord
  python scripts/benchmark.py ddp --data ../shared/data/google_tfrecord/reviews_train.tfrecord --devices 1 2
  python scripts/benchmark.py predict --input ../shared/data/nyt_dish/test.csv \\
      --tokenizer ../shared/data/nyt_dish/nyt_spm.model
  python scripts/benchmark.py predict --input ../shared/data/nyt_dish/test.csv --model best.ckpt \\
      --backends torch onnx onnx-int8
  python scripts/benchmark.py serve --model runs/tagger-int8 --input ../shared/data/nyt_dish/test.csv
  python scripts/benchmark.py finetune --train ../shared/data/nyt_dish/train.csv \\
      --dev ../shared/data/nyt_dish/val.csv \\
      --tokenizer ../shared/data/nyt_dish/nyt_spm.model
  python scripts/benchmark.py datagen --input ../shared/data/nyt_dish/reviews.txt \\
      --vocab ../shared/data/nyt_dish/nyt_spm.model
  python scripts/benchmark.py pretrain --help                   # what a benchmark measures, its options

Every report holds "cpu_capability" (torch's name for the CPU's vector ISA: AVX2, AVX512, ...):
ratios differ between CPU kinds. The benchmarks live in lightning_modules/benchmarks/, one module each.
"""
import argparse
import json
import sys

import torch

from datamodules.common.errors import exit_code_on_user_error
from datamodules.common.script_flags import ScriptArgumentParser
from lightning_modules.benchmarks import (
    datagen_memory,
    ddp_scaling,
    finetune_epoch,
    predict_rate,
    pretrain_step,
    serve_load,
)
from lightning_modules.cpu_bf16 import cpu_capability

BENCHMARKS = {"pretrain": pretrain_step, "ddp": ddp_scaling, "predict": predict_rate, "serve": serve_load,
              "datagen": datagen_memory, "finetune": finetune_epoch}


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name, benchmark in BENCHMARKS.items():
        parser = sub.add_parser(name, help=benchmark.SUMMARY, description=benchmark.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        benchmark.add_arguments(parser)
        parser.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    args = p.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    result = {**BENCHMARKS[args.command].run(args), "cpu_capability": cpu_capability()}
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
