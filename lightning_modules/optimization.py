"""Parameter groups and learning-rate schedules shared by the LightningModules."""
from __future__ import annotations

import torch

# google-research/ALBERT optimization.py: no weight decay (and, for LAMB, no layer adaptation) here.
NO_DECAY_MARKERS = ("LayerNorm", "layer_norm", "bias")


def decay_param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights that decay and adapt, and LayerNorm/bias parameters that do neither.

    Tied parameters (the MLM decoder shares the word embeddings) appear once.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # named_parameters() already drops tied duplicates
        if p.requires_grad:
            (no_decay if any(m in name for m in NO_DECAY_MARKERS) else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay, "adapt": True},
        {"params": no_decay, "weight_decay": 0.0, "adapt": False},
    ]


def warmup_poly_decay(warmup_steps: int, total_steps: int, power: float = 1.0):
    """LR multiplier at a step: linear warmup from 0, else (1 - step/total)^power (ALBERT's schedule).

    As in ALBERT the decay is measured from step 0, not from the end of warmup; power 1.0 is
    linear decay to 0 at ``total_steps``.
    """
    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return step / warmup_steps
        return max(0.0, 1.0 - min(step, total_steps) / max(total_steps, 1)) ** power

    return factor
