"""A checkpoint of a module built outside a Trainer (an untrained tagger to benchmark, a model for a test)."""
from __future__ import annotations

import os
from typing import Optional, Union

import lightning
import lightning.pytorch as pl
import torch


def save_module_checkpoint(module: pl.LightningModule, path: Union[str, os.PathLike],
                           datamodule: Optional[pl.LightningDataModule] = None) -> str:
    """Write ``module`` as a Trainer would for loading it (no training state): its weights, hyper-parameters,
    what its ``on_save_checkpoint`` adds, and ``datamodule``'s ``state_dict`` under its class name; so
    ``load_from_checkpoint``, ``init_from``, scripts/predict.py and scripts/export_hf.py read it. Returns ``path``."""
    checkpoint = {"state_dict": module.state_dict(), module.CHECKPOINT_HYPER_PARAMS_KEY: dict(module.hparams),
                  "pytorch-lightning_version": lightning.__version__}
    data_state = datamodule.state_dict() if datamodule is not None else None
    if data_state:
        checkpoint[type(datamodule).__qualname__] = data_state
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return str(path)
