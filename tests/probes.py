"""A callback for the multi-process and fault tests: what each rank saw and held, written to
<out_dir>/rank<N>.json (appended to by a resumed run), and an optional signal to itself at a step.

Loaded by class path (PYTHONPATH=tests) in every process Lightning launches.
"""
import hashlib
import json
import os
import signal

import torch
from lightning.pytorch.callbacks import Callback


class StepProbe(Callback):
    def __init__(self, out_dir: str, signal_at_step: int = -1, signal_name: str = "SIGKILL",
                 out_of_memory: bool = False):
        self.out_dir = out_dir
        self.out_of_memory = out_of_memory
        self.signal_at_step = signal_at_step
        self.signal_name = signal_name
        self.records: list[list[int]] = []
        self.weight_hashes: list[str] = []
        self.val_loss: list[float] = []

    def _path(self, trainer) -> str:
        return os.path.join(self.out_dir, f"rank{trainer.global_rank}.json")

    def _write(self, trainer) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        previous = {"records": []}
        if os.path.exists(self._path(trainer)):
            with open(self._path(trainer)) as f:
                previous = json.load(f)
        with open(self._path(trainer), "w") as f:
            json.dump({"records": previous["records"] + self.records, "weight_hashes": self.weight_hashes,
                       "val_loss": self.val_loss, "world_size": trainer.world_size}, f)
        self.records = []

    def on_train_start(self, trainer, pl_module):
        if self.out_of_memory:  # what a too-large batch does on a GPU
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.records.append(batch["record_index"].tolist())
        digest = hashlib.sha1()
        for p in pl_module.parameters():
            digest.update(p.detach().cpu().numpy().tobytes())
        self.weight_hashes.append(digest.hexdigest())
        if trainer.global_step == self.signal_at_step:
            self._write(trainer)  # what was seen before the "crash"
            os.kill(os.getpid(), getattr(signal, self.signal_name))

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking and "val/loss" in trainer.callback_metrics:
            self.val_loss.append(float(trainer.callback_metrics["val/loss"]))

    def on_train_end(self, trainer, pl_module):
        self._write(trainer)
