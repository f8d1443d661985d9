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


class LengthGroupedSampler(torch.utils.data.Sampler[int]):
    """Indices of a dataset for one process: every epoch a seeded shuffle of all items, regrouped by
    ``bucketed_order`` into batches of similar length (fine-tuning's train loader; pretraining's
    sampler does the same over the ranks). The epoch comes from ``set_epoch``, which Lightning calls."""

    def __init__(self, lengths: np.ndarray, batch_size: int, window_batches: int, seed: int):
        self.lengths, self.batch_size, self.window_batches, self.seed = lengths, batch_size, window_batches, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).numpy()
        return iter(bucketed_order(order, self.lengths, self.batch_size, self.window_batches, generator).tolist())
