"""predict: the code path of predict.py (windows, batched forward, merge, decode) on real reviews, with
PyTorch and/or ONNX Runtime (fp32, int8) running the same weights (--backends torch onnx onnx-int8):
reviews/s at batch 32, latency p50/p95 at batch 1, the backends taking turns review by review; the ONNX
exports are made from the same weights first.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import torch

from datamodules.common.errors import UserInputError
from datamodules.tagging.span_labels import read_examples
from lightning_modules.benchmarks.common import add_model_size_arguments, untrained_tagger
from lightning_modules.reporting.measurements import inference_profiles

SUMMARY = "predict.py's path: reviews/s at batch 32, latency at batch 1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="reviews: a review,dish_name CSV or a BIO file")
    parser.add_argument("--model", help="fine-tuned checkpoint (default: an untrained tagger of the sizes below)")
    parser.add_argument("--tokenizer", help="SentencePiece .model or vocab.txt for the untrained tagger")
    add_model_size_arguments(parser)
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--latency-reviews", type=int, default=200)
    parser.add_argument("--backends", nargs="+", choices=["torch", "onnx", "onnx-int8"], default=["torch"],
                        help="what runs the model, each timed in turn (default: torch)")
    parser.add_argument("--check-input", help="labelled reviews the ONNX exports are checked on (span F1 change)")
    parser.add_argument("--threads", type=int, help="torch and ONNX Runtime threads (default: torch's choice)")


def run(args) -> dict:
    if not (args.model or args.tokenizer):
        raise UserInputError("predict needs --model or --tokenizer")
    texts = [e.text for e in read_examples(args.input)][:args.reviews]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or untrained_tagger(args, os.path.join(tmp, "tagger.ckpt"))
        paths, exports = {}, {}
        for backend in args.backends:
            paths[backend] = model_path
            if backend != "torch":  # onnx, onnx-int8: export first, checked on --check-input
                from lightning_modules.inference.onnx_export import export_onnx

                paths[backend] = os.path.join(tmp, backend)
                exports[backend] = export_onnx(model_path, paths[backend], "int8" if backend == "onnx-int8" else None,
                                               args.check_input)
        backends = {name: "torch" if name == "torch" else "onnx" for name in paths}
        timing = inference_profiles(paths, texts, args.latency_reviews, 32, "cpu", backends)
    base = timing.get("torch")
    per_backend = {}
    for name, t in timing.items():
        row = {"reviews_per_s_batch32": t["reviews_per_s_batch32"],
               "latency_ms_p50_batch1": t["latency_ms_batch1"]["p50"],
               "latency_ms_p95_batch1": t["latency_ms_batch1"]["p95"],
               "latency_ms_per_review_batch32": t["latency_ms_per_review_batch32"]}
        if base and name != "torch":
            row["throughput_vs_torch"] = t["reviews_per_s_batch32"] / base["reviews_per_s_batch32"]
            row["p50_latency_vs_torch"] = t["latency_ms_batch1"]["p50"] / base["latency_ms_batch1"]["p50"]
        if name in exports:
            row["export"] = exports[name]
        per_backend[name] = row
    first = per_backend[args.backends[0]]
    return {"benchmark": "predict", "input": args.input, "model": args.model or "untrained", "reviews": len(texts),
            "threads": torch.get_num_threads(), "reviews_per_s_batch32": first["reviews_per_s_batch32"],
            "latency_ms_p50_batch1": first["latency_ms_p50_batch1"],
            "latency_ms_p95_batch1": first["latency_ms_p95_batch1"],
            "backends": per_backend, "mean_review_chars": statistics.mean(len(t) for t in texts)}
