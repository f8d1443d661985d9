#!/usr/bin/env python
"""Find dish names (or any trained entity types) in reviews with a fine-tuned tagger.

Writes one JSON object per review: {"text": ..., "dishes": [{"text", "start", "end", "score"}]} where
text[start:end] is the dish exactly; models trained on other types also get "entities" (with "type").

  python scripts/predict.py --model runs/finetune/checkpoints/best.ckpt --input reviews.txt --output dishes.jsonl
  echo "the chicken rice here is amazing" | python scripts/predict.py --model best.ckpt --input -
  python scripts/predict.py --model runs/tagger-onnx --input reviews.txt     # ONNX Runtime (export_onnx.py)
The model: a .ckpt of finetune.py (PyTorch), a directory of export_hf.py (PyTorch) or of export_onnx.py
(ONNX Runtime by default; --backend torch runs its PyTorch weights). Same windows, spans and offsets.
Input: .txt (one review per line), .csv (a 'review' column) or - (standard input, one per line); a
UTF-8 byte-order mark at the start is dropped, so offsets count from the review's first character.
"""
import argparse
import csv
import json
import os
import sys

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.files import refuse_existing
from datamodules.common.script_flags import ScriptArgumentParser
from lightning_modules.quiet_output import quiet_library_output


def read_reviews(source: str) -> list[str]:
    if source == "-":
        lines = sys.stdin.read().removeprefix("\ufeff").splitlines()
    elif not os.path.isfile(source):
        raise UserInputError(f"--input {source} does not exist")
    elif source.endswith(".csv"):
        with open(source, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if "review" not in (reader.fieldnames or []):
                raise UserInputError(f"{source}: expected a 'review' column, found {reader.fieldnames}")
            lines = list(dict.fromkeys(row["review"] or "" for row in reader))  # one review once
    else:
        with open(source, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    reviews = [line for line in lines if line.strip()]
    if not reviews:
        raise UserInputError(f"--input {source}: no reviews (empty input)")
    return reviews


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="fine-tuned .ckpt, or a directory of export_hf.py / export_onnx.py")
    p.add_argument("--input", required=True, help="reviews: .txt, .csv or - for standard input")
    p.add_argument("--output", help="JSONL file to write (default: standard output)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--backend", choices=["torch", "onnx"],
                   help="what runs the model (default: onnx for a directory with model.onnx, else torch)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    args = p.parse_args(argv)
    quiet_library_output()
    if args.batch_size < 1:
        raise UserInputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.output:
        refuse_existing([args.output], args.overwrite)
    reviews = read_reviews(args.input)
    from lightning_modules.inference.span_predictor import (  # after input checks: torch import is slow
        SpanPredictor,
        dish_record,
    )

    predictor = SpanPredictor(args.model, args.device, args.backend)
    if not args.output:
        for text, entities in predictor.predict_stream(reviews, args.batch_size):
            print(json.dumps(dish_record(text, entities), ensure_ascii=False))
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = f"{args.output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            for text, entities in predictor.predict_stream(reviews, args.batch_size):
                out.write(json.dumps(dish_record(text, entities), ensure_ascii=False) + "\n")
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)  # failed half-way: leave nothing behind
    print(f"wrote {len(reviews)} predictions to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
