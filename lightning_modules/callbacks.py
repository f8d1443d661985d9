"""Callbacks the shared CLI adds to every run."""
from __future__ import annotations

import os
import sys

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lightning_modules.cpu_bf16 import slow_bf16_warning


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
