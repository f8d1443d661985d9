"""Callbacks the shared CLI adds to every run."""
from __future__ import annotations

import os
import sys
import time

import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lightning_modules.cpu_bf16 import slow_bf16_warning
from lightning_modules.model_flops import compute_dtype, peak_gflops
from lightning_modules.reporting.measurements import peak_rss_mb


class SigtermCheckpoint(Callback):
    """On SIGTERM (Lightning stops after the current batch) save ``<dirpath>/last-interrupted.ckpt``.

    Its name makes ``--ckpt_path last`` pick it when it is the newest ``last*`` checkpoint. Unlike
    Lightning's OnExceptionCheckpoint it does not make every later ``fit`` resume on its own.
    """

    FILE_NAME = "last-interrupted.ckpt"

    def __init__(self, dirpath: str):
        self.dirpath = dirpath

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(os.path.join(self.dirpath, self.FILE_NAME))


class SlowBf16Warning(Callback):
    """Warn once, at start-up, when bf16 precision is asked of a CPU that has no native bf16.

    A warning rather than an error: the run is correct, only slow, and a user may want it anyway
    (e.g. to check a GPU config on a laptop first).
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        if "bf16" not in str(trainer.precision) or trainer.strategy.root_device.type != "cpu":
            return
        message = slow_bf16_warning(f"trainer.precision={trainer.precision}")
        if message and trainer.is_global_zero:
            print(message, file=sys.stderr)


class OutOfMemoryAdvice(Callback):
    """On out-of-memory, attach to the error the settings that decide memory and a way out (``advice``);
    ``run_cli`` prints it as the one-line error."""

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if not isinstance(exception, torch.OutOfMemoryError):
            return
        config = getattr(pl_module, "config", None)
        dims = f", hidden_size={config.hidden_size}, num_hidden_layers={config.num_hidden_layers}" if config else ""
        batch_size = trainer.datamodule.hparams.get("batch_size") if trainer.datamodule is not None else None
        exception.advice = (
            f"out of memory with data.batch_size={batch_size}, trainer.precision={trainer.precision}{dims}: "
            f"use a smaller --data.batch_size and a larger --trainer.accumulate_grad_batches (same global batch), "
            f"or --trainer.precision bf16-mixed")


class ProgressLog(Callback):
    """A progress line every ``every_n_steps`` optimizer steps when stdout is not a terminal (a SLURM log, a
    file): step, the logged training metrics, sequences/s and the time left. The progress bar writes a log
    file nothing until an epoch ends; a terminal keeps the bar alone. ``every_n_steps: 0`` turns it off."""

    METRICS = ("train/loss", "train/mlm_accuracy", "train/rtd_accuracy", "train/sop_accuracy", "train/mfu")

    def __init__(self, every_n_steps: int = 50):
        self.every_n_steps = every_n_steps

    def on_train_start(self, trainer, pl_module) -> None:
        self._active = self.every_n_steps > 0 and trainer.is_global_zero and not sys.stdout.isatty()
        self._total = trainer.max_steps if trainer.max_steps > 0 else trainer.estimated_stepping_batches
        self._start_step, self._start_time = trainer.global_step, time.perf_counter()
        self._sequences, self._written_step = 0, -1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self._active:
            return
        self._sequences += len(batch["input_ids"]) * trainer.world_size
        step = trainer.global_step
        done = step - self._start_step
        if not done or step % self.every_n_steps or step == self._written_step:  # accumulating: one line per step
            return
        self._written_step = step
        elapsed = time.perf_counter() - self._start_time
        left = (self._total - step) * elapsed / done
        metrics = " ".join(f"{name.split('/')[-1]} {float(trainer.callback_metrics[name]):.4f}"
                           for name in self.METRICS if name in trainer.callback_metrics)
        print(f"step {step}/{self._total} epoch {trainer.current_epoch} {metrics} "
              f"sequences/s {self._sequences / elapsed:.1f} eta {_duration(left)}", flush=True)


class UtilizationMonitor(Callback):
    """Model FLOPs utilization while training, for a module that counts its FLOPs (``training_gflop(batch)``):
    every ``every_n_batches`` batches it logs ``train/mfu`` (achieved FLOP/s over the device's peak in the run's
    dtype, lightning_modules/model_flops.py), ``train/tflops`` and ``train/peak_memory_mb`` (the GPU's peak
    allocation, or the process's peak RSS on a CPU). Windows are timed end to end, data loading included,
    and start afresh after validation. Each rank measures its own batches against its own device."""

    def __init__(self, every_n_batches: int = 10):
        self.every_n_batches = every_n_batches
        self._active = False

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._active = stage == "fit" and hasattr(pl_module, "training_gflop")
        if self._active:
            self._device = trainer.strategy.root_device
            self._peak, _ = peak_gflops(self._device, compute_dtype(trainer.precision))
            self._restart()

    def _restart(self) -> None:
        self._window_start, self._gflop, self._batches = None, 0.0, 0

    def _now(self) -> float:
        if self._device.type == "cuda":
            torch.cuda.synchronize(self._device)  # once per window: kernels run ahead of the host
        return time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self._active and self._window_start is None:
            self._window_start = self._now()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self._active:
            return
        self._gflop += pl_module.training_gflop(batch)
        self._batches += 1
        if self._batches < self.every_n_batches:
            return
        tflops = self._gflop / (self._now() - self._window_start) / 1e3
        self._restart()
        metrics = {"train/tflops": tflops, "train/peak_memory_mb": self._peak_memory_mb()}
        if self._peak:
            metrics["train/mfu"] = tflops * 1e3 / self._peak
        for name, value in metrics.items():
            pl_module.log(name, value, on_step=True, on_epoch=False, prog_bar=name == "train/mfu", rank_zero_only=True)

    def _peak_memory_mb(self) -> float:
        if self._device.type == "cuda":
            return torch.cuda.max_memory_allocated(self._device) / 2 ** 20
        return peak_rss_mb()

    def on_validation_start(self, trainer, pl_module) -> None:
        if self._active:
            self._restart()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class StepProgressBar(TQDMProgressBar):
    """The training bar counts optimizer steps of ``trainer.max_steps`` when it is set (Lightning's counts the
    epoch's batches: ``Epoch 0/-2`` without max_epochs, ``40/10`` after a resume) and shows no ``v_num``
    (the run's folder names its version). Without max_steps it is Lightning's epoch bar."""

    def on_train_epoch_start(self, trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        if trainer.max_steps > 0:
            self.train_progress_bar.reset(total=trainer.max_steps)
            # Steps already done count as done, not as this epoch's speed.
            self.train_progress_bar.initial = self.train_progress_bar.n = trainer.global_step
            self.train_progress_bar.set_description(f"epoch {trainer.current_epoch}, step")
            self.train_progress_bar.refresh()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.max_steps <= 0:
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        bar, step = self.train_progress_bar, trainer.global_step
        if self.is_enabled and (step % self.refresh_rate == 0 or step == bar.total):
            bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes the bar

    def get_metrics(self, trainer, pl_module) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
