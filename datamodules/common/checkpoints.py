"""Reading our ``.ckpt`` files with one-line errors for anything that is not one."""
from __future__ import annotations

import os

from datamodules.common.errors import UserInputError


def load_checkpoint_file(path: str) -> dict:
    """A ``.ckpt`` as a dict; anything else is a one-line UserInputError, not an unpickling traceback."""
    import torch

    if not os.path.isfile(path):
        raise UserInputError(f"{path} does not exist (expected a .ckpt checkpoint)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # pickle, zip and torch errors all mean: not a checkpoint
        raise UserInputError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(checkpoint, dict):
        raise UserInputError(f"{path}: not a checkpoint of this project")
    return checkpoint
