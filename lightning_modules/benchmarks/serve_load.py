"""serve: scripts/serve.py started on 127.0.0.1 and driven by --clients threads (keep-alive connections,
requests back to back) for --seconds, then again with every --malformed-every-th request malformed:
reviews/s, latency p50/p95/p99, errors (an answer that does not echo its request's texts counts as one),
each malformed request's status; beside predict.py's bulk reviews/s on the same reviews; then SIGTERM.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from datamodules.common.errors import UserInputError
from datamodules.tagging.span_labels import read_examples
from lightning_modules.benchmarks.common import add_model_size_arguments, untrained_tagger

SUMMARY = "serve.py under concurrent clients: reviews/s, latency p50/p95/p99, errors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="tagger: .ckpt, HF or ONNX directory (default: an untrained small tagger, "
                                        "ONNX int8)")
    parser.add_argument("--tokenizer", help="SentencePiece .model or vocab.txt for the untrained tagger")
    parser.add_argument("--input", required=True, help="reviews: a review,dish_name CSV or a BIO file")
    parser.add_argument("--backend", choices=["torch", "onnx"], help="default: what the model holds")
    for name, default in [("reviews", 1000), ("clients", 16), ("texts-per-request", 1), ("malformed-every", 10),
                          ("max-batch-size", 16), ("max-requests", 100_000)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    add_model_size_arguments(parser)
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase (clean, then with malformed requests)")
    parser.add_argument("--batch-timeout", type=float, default=0.005)


def predict_reviews_per_s(model: str, backend: str | None, texts: list[str]) -> float:
    """predict.py's bulk path (batch 32) on the same reviews, the rate the service is compared with
    (a function of its own: its model is freed before the server loads another copy)."""
    from lightning_modules.inference.span_predictor import SpanPredictor

    predictor = SpanPredictor(model, "cpu", backend)
    predictor.predict(texts[:32])  # warm-up
    start = time.perf_counter()
    list(predictor.predict_stream(texts, 32))
    return len(texts) / (time.perf_counter() - start)


def run(args) -> dict:
    if not (args.model or args.tokenizer):
        raise UserInputError("serve needs --model or --tokenizer")
    from lightning_modules.inference.service_load import load_test, running_server

    texts = list(dict.fromkeys(e.text for e in read_examples(args.input)))[:args.reviews]
    options = ["--device", "cpu", "--max-batch-size", str(args.max_batch_size),
               "--batch-timeout", str(args.batch_timeout), *(["--backend", args.backend] if args.backend else [])]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:  # the untrained small tagger, exported as the fastest backend serves it
            from lightning_modules.inference.onnx_export import export_onnx

            model = os.path.join(tmp, "tagger-int8")
            export_onnx(untrained_tagger(args, os.path.join(tmp, "tagger.ckpt")), model, "int8", None)
        predict_rate = predict_reviews_per_s(model, args.backend, texts)
        with running_server(model, os.path.join(tmp, "serve.log"), *options) as server:
            phases = {}
            for name, every in [("clean", 0), ("with_malformed", args.malformed_every)]:
                phases[name] = load_test(server.port, texts, args.clients, args.seconds, args.max_requests,
                                         args.texts_per_request, every).summary()
                phases[name]["throughput_vs_predict_batch32"] = phases[name]["reviews_per_s"] / predict_rate
            exit_code, stop_s = server.stop()
    return {"benchmark": "serve", "model": args.model or "untrained, ONNX int8",
            "backend": args.backend or "model's default", "reviews": len(texts), "clients": args.clients,
            "texts_per_request": args.texts_per_request,
            "max_batch_size": args.max_batch_size, "batch_timeout_s": args.batch_timeout,
            "predict_reviews_per_s_batch32": predict_rate, "startup_s": server.startup_s, **phases,
            "sigterm_exit_code": exit_code, "sigterm_exit_s": stop_s}
