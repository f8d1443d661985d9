"""Random-number state in checkpoints, so a resumed run draws the dropout masks an uninterrupted one would.

Lightning restores weights, optimizer, schedule and (through our loaders' ``state_dict``) the batch order,
but not torch's generators. Each rank draws its own, and rank 0 writes the file: so the checkpoint holds
every rank's state, gathered (``on_save_checkpoint`` runs on every rank), beside rank 0's own under the
older key, and each rank restores its own (rank 0's when the number of ranks changed).
A callback does it (the modules add it in ``configure_callbacks``): a Trainer calls it when it saves or
resumes, while ``load_from_checkpoint`` (predict.py, export) leaves the caller's generators alone.
"""
from __future__ import annotations

import lightning.pytorch as pl
import torch

_SETTERS = {"rng_state": torch.set_rng_state, "cuda_rng_state": torch.cuda.set_rng_state}


class RngStateCheckpoint(pl.Callback):
    """Every rank's generator states into each checkpoint, and back when a Trainer restores one."""

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        states = {"rng_state": torch.get_rng_state()}
        if torch.cuda.is_available():
            states["cuda_rng_state"] = torch.cuda.get_rng_state()
        for key, state in states.items():
            checkpoint[key] = state
            if _world_size() > 1:
                checkpoint[key + "_per_rank"] = pl_module.all_gather(state).cpu()

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        for key, set_state in _SETTERS.items():
            if key not in checkpoint or (key == "cuda_rng_state" and not torch.cuda.is_available()):
                continue
            per_rank = checkpoint.get(key + "_per_rank")
            same_world = per_rank is not None and len(per_rank) == _world_size()
            # clone: a row of the gathered tensor is a view, and set_rng_state on a view crashes (torch 2.13)
            set_state(per_rank[pl_module.global_rank].clone() if same_world else checkpoint[key])


def _world_size() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
