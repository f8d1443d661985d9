"""What a model costs: parameter counts, inference latency and throughput, peak memory.

Used by scripts/compare.py and the benchmarks (lightning_modules/benchmarks). Timings run fine-tuned
checkpoints through ``SpanPredictor``, the code path of scripts/predict.py, so they are what a user of
predict.py gets.
"""
from __future__ import annotations

import math
import os
import resource
import statistics
import sys
import threading
import time

import torch


def peak_rss_mb(usage: resource.struct_rusage | None = None) -> float:
    """Peak resident memory of this process (or of the process ``usage`` describes), in MB."""
    usage = usage or resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KB on Linux


class ProcessTreeMemory:
    """Peak memory of a process (``root``: this one by default) and all its descendants (forked workers),
    summed, sampled every ``interval`` seconds from /proc (Linux) in a thread: ``peak_rss`` counts pages
    shared after a fork once per process, as ``ps`` would add them up; ``peak_pss`` shares them out
    (/proc/PID/smaps_rollup), the memory the tree really holds."""

    def __init__(self, interval: float = 0.05, root: int | None = None):
        self.interval, self.peak_rss, self.peak_pss = interval, 0, 0
        self.root = root or os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _tree(root: int) -> list[int]:
        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:  # ended meanwhile
                    continue
                children.setdefault(ppid, []).append(int(name))
        tree, todo = [], [root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return tree

    @staticmethod
    def _kilobytes(path: str, field: str) -> int:
        try:
            with open(path) as f:
                return next((int(line.split()[1]) for line in f if line.startswith(field)), 0)
        except OSError:
            return 0

    def _sample(self) -> None:
        while True:
            tree = self._tree(self.root)
            rss = sum(self._kilobytes(f"/proc/{pid}/status", "VmRSS:") for pid in tree)
            pss = sum(self._kilobytes(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in tree)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss * 1024), max(self.peak_pss, pss * 1024)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> ProcessTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def parameter_counts(state_dict: dict[str, torch.Tensor], encoder_prefix: str) -> dict[str, int]:
    """Encoder parameters (no task head), total and in the embeddings (ALBERT: with its E->H projection)."""
    encoder = {name: t for name, t in state_dict.items() if name.startswith(encoder_prefix)}
    embedding = [t for name, t in encoder.items() if ".embeddings." in name or "embedding_hidden_mapping_in" in name]
    return {"total": sum(t.numel() for t in encoder.values()), "embedding": sum(t.numel() for t in embedding)}


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50": 1000 * statistics.median(ordered),  # p95, p99: nearest rank
            "p95": 1000 * ordered[math.ceil(0.95 * len(ordered)) - 1],
            "p99": 1000 * ordered[math.ceil(0.99 * len(ordered)) - 1]}


def _timed(predict, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    predict(texts, batch_size)
    return time.perf_counter() - start


def inference_profiles(checkpoints: dict[str, str], texts: list[str], latency_texts: int = 200,
                       batch_size: int = 32, device: str = "auto",
                       backends: dict[str, str] | None = None) -> dict[str, dict]:
    """predict.py's path for each checkpoint: latency per review at batch 1 and at ``batch_size`` (a call
    with that many reviews), and reviews/s of predict.py's bulk path (``predict_stream``) at ``batch_size``.
    ``backends``: torch or onnx per name (default: what each model holds).

    The models take turns on every review and every batch, so a change in machine load during the run
    hits all of them alike and their ratios stay fair.
    """
    from lightning_modules.inference.span_predictor import SpanPredictor

    backends = backends or {}
    predictors = {name: SpanPredictor(path, device, backends.get(name)) for name, path in checkpoints.items()}
    for predictor in predictors.values():
        predictor.predict(texts[:batch_size], batch_size)  # warm-up: first calls allocate
    single = {name: [] for name in predictors}
    for text in texts[:latency_texts]:
        for name, predictor in predictors.items():
            single[name].append(_timed(predictor.predict, [text], 1))
    batch_seconds = {name: [] for name in predictors}
    chunks = [texts[first:first + batch_size] for first in range(0, len(texts), batch_size)]
    for chunk in chunks:
        for name, predictor in predictors.items():
            batch_seconds[name].append(_timed(predictor.predict, chunk, batch_size))
    bulk_seconds = {name: _timed(lambda t, b: list(p.predict_stream(t, b)), texts, batch_size)
                    for name, p in predictors.items()}
    return {name: {"latency_ms_batch1": percentiles_ms(single[name]),
                   f"latency_ms_per_review_batch{batch_size}":
                       percentiles_ms([t / len(chunk) for t, chunk in zip(batch_seconds[name], chunks)]),
                   f"reviews_per_s_batch{batch_size}": len(texts) / bulk_seconds[name],
                   "reviews": len(texts), "threads": torch.get_num_threads()}
            for name in predictors}


def inference_peak_rss_mb(checkpoint: str, texts: list[str], batch_size: int = 32, device: str = "auto") -> float:
    """Peak memory of predicting ``texts`` with one model; run it in a fresh process to get that model's alone."""
    from lightning_modules.inference.span_predictor import SpanPredictor

    SpanPredictor(checkpoint, device).predict(texts, batch_size)
    return peak_rss_mb()
