"""Training loaders that resume exactly, through Lightning's public loader-state protocol.

Lightning saves ``state_dict()`` of every train DataLoader that has one in each checkpoint and hands
it back to ``load_state_dict()`` on resume (it looks for the two methods on the loader object itself:
a stateful sampler inside a plain DataLoader is not picked up). Our state is the epoch, the sampler's
seed and how many batches of the epoch the loader has handed out; Lightning's fetcher does not read
ahead from a loader with a length, so handed out = trained on when a checkpoint is taken.

On resume Lightning starts the loader's iterator before it calls ``set_epoch``, and DataLoader
workers read the sampler as soon as the iterator starts: so ``load_state_dict`` sets the epoch and the
position on the sampler itself, and the next iterator begins there.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from datamodules.common.length_buckets import bucketed_order


class ResumableDistributedSampler(DistributedSampler):
    """A DistributedSampler that can begin an epoch part-way and can group records of similar length.

    The order is a function of seed and epoch only, so the records after a resume are exactly those
    an uninterrupted run would have seen. With ``lengths`` (per record), ``bucket_window`` > 0 and a
    shuffled, drop-last sampler, DistributedSampler's epoch permutation is length-bucketed in global
    batches of ``batch_size`` x ranks before rank r takes every r-th record: the DataLoader then cuts
    each rank's share into batches of ``batch_size`` that line up with those buckets, so at each step
    every rank gets a batch of similar length and none waits for another.
    """

    def __init__(self, *args, lengths: Optional[np.ndarray] = None, batch_size: int = 1, bucket_window: int = 0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.lengths, self.batch_size, self.bucket_window = lengths, batch_size, bucket_window
        self.skip_next = 0  # samples of this rank to leave out at the start of the next iteration (a resume)

    def _bucketed_indices(self) -> list[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)  # DistributedSampler's permutation for this epoch ...
        order = torch.randperm(len(self.dataset), generator=g).numpy()[:self.total_size]  # ... with drop_last
        grouped = bucketed_order(order, self.lengths, self.batch_size * self.num_replicas, self.bucket_window, g)
        return grouped[self.rank::self.num_replicas].tolist()

    def __iter__(self):
        bucketing = self.lengths is not None and self.bucket_window > 0 and self.shuffle and self.drop_last
        indices = self._bucketed_indices() if bucketing else list(super().__iter__())
        indices, self.skip_next = indices[self.skip_next:], 0
        return iter(indices)


class ResumableDataLoader(DataLoader):
    """A DataLoader over a ``ResumableDistributedSampler`` whose position Lightning checkpoints and restores."""

    def __init__(self, *args, **kwargs):
        # Every iterator draws its workers' base seed from this generator. Left at None it is torch's global
        # one, which dropout draws from: a resumed run makes its iterator at another step than an uninterrupted
        # run, so that one draw would shift every dropout mask after it. (The order comes from the sampler's seed.)
        kwargs.setdefault("generator", torch.Generator())
        super().__init__(*args, **kwargs)
        self._batches_done = 0  # of the current epoch, handed out by this loader
        self._resume_batches = 0

    def __iter__(self):
        self._batches_done, self._resume_batches = self._resume_batches, 0
        return self._counted(super().__iter__())

    def _counted(self, batches):
        for batch in batches:
            self._batches_done += 1
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "seed": self.sampler.seed, "batches_done": self._batches_done}

    def load_state_dict(self, state: dict) -> None:
        epoch, done = state["epoch"], state["batches_done"]
        if done >= len(self):  # saved on the epoch's last batch: go on with the next epoch
            epoch, done = epoch + 1, 0
        self.sampler.seed = state["seed"]
        self.sampler.set_epoch(epoch)
        self.sampler.skip_next = done * self.batch_size
        self._resume_batches = done
