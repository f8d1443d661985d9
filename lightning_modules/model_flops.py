"""Model FLOPs and the device's peak, for model FLOPs utilization (MFU) in training logs and benchmarks.

FLOPs are counted analytically from the config and the shapes a step computes (matmuls only, as MFU is
usually defined): ALBERT's shared layer counts once per pass through it, the MLM head only on the gathered
masked positions, training as 3x the forward pass. The peak is Lightning's table of accelerator peaks by
device name and dtype (``get_available_flops``); a CPU has no such table, so its peak is a matmul measured
in the run's dtype.
"""
from __future__ import annotations

import time

import torch
from lightning.fabric.utilities.throughput import get_available_flops


def pretraining_gflop(config, batch_size: int, seq_len: int, masked: int) -> float:
    """Matmul GFLOPs of one masked-LM training step (forward + backward = 3x forward) over ``batch_size``
    sequences of ``seq_len`` tokens with ``masked`` predictions each."""
    h, e, i, layers, v = (config.hidden_size, getattr(config, "embedding_size", config.hidden_size),
                          config.intermediate_size, config.num_hidden_layers, config.vocab_size)
    tokens = batch_size * seq_len
    per_layer = tokens * (4 * h * h + 2 * h * i) * 2 + 2 * 2 * batch_size * seq_len * seq_len * h
    # ALBERT projects its factorized embeddings (embedding_size -> hidden_size); BERT has no such layer.
    embedding_projection = tokens * e * h * 2 if hasattr(config, "embedding_size") else 0
    mlm_head = batch_size * masked * (h * e + e * v) * 2
    return 3 * (embedding_projection + layers * per_layer + mlm_head) / 1e9


def matmul_peak_gflops(dtype: torch.dtype, n: int = 512, repeats: int = 5, budget_s: float = 2.0) -> float:
    """Best n x n CPU matmul rate in GFLOP/s, in at most ``repeats`` timings or about ``budget_s`` seconds
    (on a CPU without native bf16 one bf16 matmul of this size takes ~0.2 s)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget_s:
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times) / 1e9


def compute_dtype(precision: str) -> torch.dtype:
    """The matmul dtype of a Lightning precision setting ("32-true", "bf16-mixed", "16-mixed", ...)."""
    precision = str(precision)
    if precision.startswith("bf16"):
        return torch.bfloat16
    if precision.startswith("16"):
        return torch.float16
    return torch.float64 if precision.startswith("64") else torch.float32


def peak_gflops(device: torch.device, dtype: torch.dtype) -> tuple[float | None, str]:
    """The device's peak GFLOP/s in ``dtype`` and where it comes from; None for an accelerator not in the table."""
    if device.type == "cpu":
        return matmul_peak_gflops(dtype), "measured 512x512 matmul"
    flops = get_available_flops(device, dtype)
    return (flops / 1e9 if flops else None), "Lightning's table of device peaks"
