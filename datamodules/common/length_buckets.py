"""Length bucketing: an epoch's shuffled record order regrouped so that each batch holds records of
similar length, which batch trimming then turns into less padding computed.

The shuffled order is cut into windows of ``window_batches`` batches; inside each window the
records are sorted by length (stably, so equal lengths keep their random order) and cut into
batches; then the full batches are shuffled and any short remainder goes last. Every record still
comes exactly once per epoch, and which records share a window changes every epoch.
"""
from __future__ import annotations

import numpy as np
import torch


def bucketed_order(order: np.ndarray, lengths: np.ndarray, batch_size: int, window_batches: int,
                   generator: torch.Generator) -> np.ndarray:
    """``order`` (record indices) regrouped into length buckets of ``batch_size``; ``lengths[i]`` is record i's."""
    order = np.asarray(order)
    window = np.arange(len(order)) // (batch_size * window_batches)
    by_length = order[np.lexsort((lengths[order], window))]  # the last key sorts first: window, then length
    full = len(order) // batch_size * batch_size
    batches = by_length[:full].reshape(-1, batch_size)
    shuffled = batches[torch.randperm(len(batches), generator=generator).numpy()]
    return np.concatenate([shuffled.ravel(), by_length[full:]])
