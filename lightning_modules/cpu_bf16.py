"""Does this CPU compute bf16 fast? Measured, not guessed from flags.

Torch's bf16 matmul is fast only where the CPU has native bf16 instructions (AVX512_BF16, AMX) and
oneDNN may use them. Elsewhere (e.g. an AVX2-only AMD EPYC) it falls back to a reference loop about
50x slower than fp32, and a bf16-mixed run gets tens of times slower without a word. CPU flags alone
do not tell: ``ONEDNN_MAX_CPU_ISA`` / ``ATEN_CPU_CAPABILITY`` can hide the fast path, so we time a
small matmul in both dtypes on one thread (about 0.1 s on the slow path, a few ms on the fast one).
"""
from __future__ import annotations

import functools
import time

import torch

# Native bf16 runs a matmul at 0.3-1.5x the fp32 time; the fallback at ~50x. Anything between is slow.
SLOW_BF16_RATIO = 4.0


def cpu_capability() -> str:
    """Torch's name for the vector ISA its own kernels use: "AVX2", "AVX512", ... (printed with timings)."""
    return torch.backends.cpu.get_cpu_capability()


def _best_matmul_seconds(dtype: torch.dtype, n: int, repeats: int) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # first call: oneDNN picks and builds its kernel
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return min(times)


@functools.lru_cache(maxsize=None)
def bf16_matmul_slowdown(n: int = 256, repeats: int = 3) -> float:
    """Time of an n x n bf16 matmul over the same fp32 matmul on this CPU (once per process).

    On one thread: the ratio is a property of the core, and a multi-threaded matmul on a busy machine
    stalls at its barriers (10x and more), which would hide the difference.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _best_matmul_seconds(torch.bfloat16, n, repeats) / _best_matmul_seconds(torch.float32, n, repeats)
    finally:
        torch.set_num_threads(threads)


def native_bf16() -> bool:
    """True where a bf16 matmul is not much slower than fp32 here (native bf16 instructions in use)."""
    return bf16_matmul_slowdown() < SLOW_BF16_RATIO


def slow_bf16_warning(what: str) -> str | None:
    """One warning line when ``what`` asks for bf16 on a CPU without native bf16, else None."""
    if native_bf16():
        return None
    return (f"warning: {what} on a CPU without native bf16 (torch CPU capability {cpu_capability()}; a bf16 "
            f"matmul measured {bf16_matmul_slowdown():.0f}x slower than fp32 here): expect it to run many times "
            f"slower than fp32; use --trainer.precision 32-true on this CPU")
