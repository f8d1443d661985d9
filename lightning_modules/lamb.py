"""LAMB with google-research/ALBERT's semantics, vectorized with torch's ``_foreach`` kernels.

Per parameter p with gradient g (ALBERT lamb_optimizer.py):
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2          (no bias correction)
    u = m / (sqrt(v) + eps) + weight_decay * p
    r = ||p|| / ||u|| if both norms > 0 else 1                  (only where ``adapt`` is set)
    p = p - lr * r * u
Param groups carry ``weight_decay`` and ``adapt``; ALBERT turns both off for LayerNorm and bias.
No gradient clipping inside: global-norm clipping is the Trainer's job (``gradient_clip_val``), so
it happens exactly once. Why not a library: timm's Lamb needs torchvision (does not import beside
this torch), and the maintained alternatives apply bias correction and/or clip internally.
"""
from __future__ import annotations

import torch
from torch.optim import Optimizer


class Lamb(Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.01, adapt: bool = True):
        if lr < 0 or eps <= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1:
            raise ValueError(f"invalid LAMB hyper-parameters lr={lr} betas={betas} eps={eps}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, adapt=adapt))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if any(g.is_sparse for g in grads):
                raise RuntimeError("Lamb does not support sparse gradients")
            exp_avg, exp_avg_sq = [], []
            for p in params:
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                exp_avg.append(state["exp_avg"])
                exp_avg_sq.append(state["exp_avg_sq"])
            beta1, beta2 = group["betas"]
            torch._foreach_lerp_(exp_avg, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sq, beta2)
            torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - beta2)
            denom = torch._foreach_sqrt(exp_avg_sq)
            torch._foreach_add_(denom, group["eps"])
            updates = torch._foreach_div(exp_avg, denom)
            if group["weight_decay"]:
                torch._foreach_add_(updates, params, alpha=group["weight_decay"])
            if group["adapt"]:
                w_norm = torch.stack(torch._foreach_norm(params))
                u_norm = torch.stack(torch._foreach_norm(updates))
                one = torch.ones_like(w_norm)
                ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, one)
                torch._foreach_mul_(updates, list(ratio.unbind()))
            torch._foreach_add_(params, updates, alpha=-group["lr"])
        return loss
