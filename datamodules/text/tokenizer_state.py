"""A tokenizer carried inside checkpoints and export directories, so later stages need no path to it."""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile

from datamodules.common.checkpoints import load_checkpoint_file
from datamodules.common.errors import UserInputError
from datamodules.text.tokenization import Tokenizer, load_tokenizer


def tokenizer_state(path: str, do_lower_case: bool, tokenizer: Tokenizer | None = None) -> dict:
    """The tokenizer file itself, for checkpoints: later stages need no path to it.

    Pass ``tokenizer`` when it is already loaded from ``path``, so it is not loaded twice.
    """
    tokenizer = tokenizer or load_tokenizer(path, do_lower_case)
    with open(path, "rb") as f:
        return {"file_name": os.path.basename(path), "data": f.read(), "do_lower_case": do_lower_case,
                "vocab_size": tokenizer.vocab_size}


def tokenizer_from_state(state: dict) -> Tokenizer:
    """Load a tokenizer stored by ``tokenizer_state``. Both backends read the file whole when loading, so the
    temporary copy is removed at once (every predict.py run or server start would otherwise leave one)."""
    with tempfile.TemporaryDirectory(prefix="albert-tokenizer-") as folder:
        path = os.path.join(folder, state["file_name"])
        with open(path, "wb") as f:
            f.write(state["data"])
        tokenizer = load_tokenizer(path, state["do_lower_case"])
    return dataclasses.replace(tokenizer, path=f"{state['file_name']} (stored in the checkpoint)")


def tokenizer_from_checkpoint(source: str) -> dict | None:
    """The tokenizer state inside one of our ``.ckpt`` files or a HF directory, or None if it has none."""
    if os.path.isdir(source):
        for name in ("spiece.model", "vocab.txt"):
            path = os.path.join(source, name)
            if os.path.isfile(path):
                lower = True
                config = os.path.join(source, "tokenizer_config.json")
                if os.path.isfile(config):
                    with open(config, encoding="utf-8") as f:
                        lower = bool(json.load(f).get("do_lower_case", True))
                return tokenizer_state(path, lower)
        return None
    if not os.path.isfile(source):
        raise UserInputError(f"{source} does not exist (expected a .ckpt file or a HF model directory)")
    return stored_tokenizer(load_checkpoint_file(source))


def stored_tokenizer(checkpoint: dict) -> dict | None:
    """The tokenizer state a DataModule or module stored in a loaded checkpoint, or None."""
    for value in checkpoint.values():
        if isinstance(value, dict) and isinstance(value.get("tokenizer"), dict):
            return value["tokenizer"]
    return None
