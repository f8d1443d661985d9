"""Quiet runs: the project's own lines and the warnings that matter, not the libraries' chatter.

Called once by the shared CLI (lightning_modules/cli.py) and by the inference entry points. Dropped:
Lightning's tips to install its cloud products and its "TPU available: False" lines; transformers' bars
("Writing model shards", "Loading weights": instant for our sizes); FutureWarnings and
DeprecationWarnings raised in the libraries (notes to their developers, e.g. torch's pytree LeafSpec);
torch.onnx's UserWarnings about dynamic axis names it merged. Kept: everything of ours, every error,
Lightning's UserWarnings (they are about the run: few workers, a monitored metric missing, ...) and its
GPU line when there is a GPU. ``ALBERT_VERBOSE=1``, or any ``-W``/``PYTHONWARNINGS``, shows it all again.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import warnings

VERBOSE_VARIABLE = "ALBERT_VERBOSE"
LIGHTNING_INFO_LOGGER = "lightning.pytorch.utilities.rank_zero"  # rank_zero_info's logger
OUR_MODULES = r"(datamodules|lightning_modules|scripts)(\.|$)"
_NOISE = re.compile(r"💡 Tip:|(GPU|TPU|HPU) available: False")


class _DropLightningNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _NOISE.match(record.getMessage())


def quiet_library_output() -> None:
    if os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0"):
        return
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    else:  # read when huggingface_hub is imported (not yet: the inference scripts import it late, for speed)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logger = logging.getLogger(LIGHTNING_INFO_LOGGER)
    if not any(isinstance(f, _DropLightningNoise) for f in logger.filters):
        logger.addFilter(_DropLightningNoise())
    if sys.warnoptions:  # the user chose which warnings to see
        return
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=OUR_MODULES)  # inserted first: wins
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx\.")
