"""Callbacks the shared CLI adds to every run."""
from __future__ import annotations

import os

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException


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
