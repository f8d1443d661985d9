"""Parameter groups and learning-rate schedules shared by the LightningModules."""
from __future__ import annotations

import math
from typing import Callable

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


def warmup_poly_decay(total_steps: Callable[[], float], warmup_steps: int = 0, warmup_ratio: float = 0.0,
                      power: float = 1.0) -> Callable[[int], float]:
    """LR multiplier at a step: linear warmup from 0 over ``warmup_steps`` (or ceil(``warmup_ratio`` x total)
    steps), else (1 - step/total)^power (ALBERT's schedule).

    As in ALBERT the decay is measured from step 0, not from the end of warmup; power 1.0 is linear
    decay to 0 at the total. ``total_steps`` (e.g. ``trainer.estimated_stepping_batches``) is called once,
    at the first step after 0: reading it inside ``configure_optimizers`` makes Lightning build the train
    loader before a checkpoint's loader state is restored, so a resumed run would restart its epoch
    (Lightning issue #20550). Step 0, which LambdaLR evaluates when it is made, needs no total.
    """
    resolved: list[int] = []  # [total, warmup] once known

    def factor(step: int) -> float:
        if step == 0:
            return 0.0 if warmup_steps or warmup_ratio else 1.0
        if not resolved:
            total = max(int(total_steps()), 1)
            resolved.extend([total, warmup_steps or math.ceil(warmup_ratio * total)])
        total, warmup = resolved
        if step < warmup:
            return step / warmup
        return max(0.0, 1.0 - min(step, total) / total) ** power

    return factor
