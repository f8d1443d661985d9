"""What a model costs: parameter counts, inference latency and throughput, peak memory.

Used by scripts/compare.py. Timings run a fine-tuned checkpoint through ``SpanPredictor``, the
code path of scripts/predict.py, so they are what a user of predict.py gets.
"""
from __future__ import annotations

import math
import resource
import statistics
import sys
import time

import torch


def peak_rss_mb(usage: resource.struct_rusage | None = None) -> float:
    """Peak resident memory of this process (or of the process ``usage`` describes), in MB."""
    usage = usage or resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KB on Linux


def parameter_counts(state_dict: dict[str, torch.Tensor], encoder_prefix: str) -> dict[str, int]:
    """Encoder parameters (no task head), total and in the embeddings (ALBERT: with its E->H projection)."""
    encoder = {name: t for name, t in state_dict.items() if name.startswith(encoder_prefix)}
    embedding = [t for name, t in encoder.items() if ".embeddings." in name or "embedding_hidden_mapping_in" in name]
    return {"total": sum(t.numel() for t in encoder.values()), "embedding": sum(t.numel() for t in embedding)}


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50": 1000 * statistics.median(ordered),
            "p95": 1000 * ordered[math.ceil(0.95 * len(ordered)) - 1]}  # nearest rank


def inference_profile(checkpoint: str, texts: list[str], latency_texts: int = 200, batch_size: int = 32,
                      device: str = "auto") -> dict:
    """predict.py's path on ``texts``: latency per review at batch 1 and at ``batch_size``, reviews/s, peak RSS.

    Meant to run in a fresh process (see scripts/compare.py), so the peak memory is this model's alone.
    """
    from lightning_modules.span_predictor import SpanPredictor

    predictor = SpanPredictor(checkpoint, device)
    predictor.predict(texts[:batch_size], batch_size)  # warm-up: first calls allocate
    single = []
    for text in texts[:latency_texts]:
        start = time.perf_counter()
        predictor.predict([text], 1)
        single.append(time.perf_counter() - start)
    per_review, total = [], 0.0
    for first in range(0, len(texts), batch_size):
        chunk = texts[first:first + batch_size]
        start = time.perf_counter()
        predictor.predict(chunk, batch_size)
        elapsed = time.perf_counter() - start
        total += elapsed
        per_review.append(elapsed / len(chunk))
    return {"latency_ms_batch1": percentiles_ms(single), f"latency_ms_per_review_batch{batch_size}":
            percentiles_ms(per_review), f"reviews_per_s_batch{batch_size}": len(texts) / total,
            "reviews": len(texts), "threads": torch.get_num_threads(), "peak_rss_mb": peak_rss_mb()}
