"""The LightningCLI every training script shares: checkpoints under the run's root, one-line errors.

Checkpoints go to ``<trainer.default_root_dir>/checkpoints``: ``last.ckpt`` plus the newest periodic
one every ``checkpoint.every_n_train_steps`` steps (a killed run loses at most that many),
``best.ckpt`` by ``best_checkpoint.monitor``, and ``last-interrupted.ckpt`` when SIGTERM stops
training after the current batch. A fixed directory is what lets ``--ckpt_path last`` find the
newest of them. Lightning writes checkpoints atomically (a temporary file, then a rename).
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from datamodules.common.checkpoints import load_checkpoint_file
from datamodules.common.errors import TrainingStoppedError, UserInputError
from datamodules.text.tokenization import load_tokenizer
from lightning_modules.callbacks import (
    OutOfMemoryAdvice,
    ProgressLog,
    SigtermCheckpoint,
    SlowBf16Warning,
    StepProgressBar,
    UtilizationMonitor,
)
from lightning_modules.quiet_output import quiet_library_output


def _checkpoint_dir(root_dir: str | None) -> str:
    return os.path.join(root_dir or ".", "checkpoints")


def _topmost_missing(path: str) -> str:
    """The outermost folder of ``path`` that does not exist yet (what ``os.makedirs(path)`` would create)."""
    path = os.path.abspath(path)
    while not os.path.exists(os.path.dirname(path)):
        path = os.path.dirname(path)
    return path


class _WorkDone(Callback):
    """Whether the run has done a batch of work (training, validation, test, predict; not the sanity check)."""

    done = False

    def _batch_end(self, trainer, *args) -> None:
        self.done = self.done or not trainer.sanity_checking

    on_train_batch_end = on_validation_batch_end = on_test_batch_end = on_predict_batch_end = _batch_end


class AlbertCLI(LightningCLI):
    def __init__(self, *args, best_monitor: str = "val/loss", best_mode: str = "min", links=(), **kwargs):
        """``links``: (source, target, apply_on) argument links, e.g. the DataModule's labels into the model."""
        self._best = (best_monitor, best_mode)
        self._links = links
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("seed_everything_default", 1234)
        # A callback without arguments: as a trainer default (an argument group of none is never built).
        defaults = kwargs.setdefault("trainer_defaults", {})
        self._work, self._new_dirs = _WorkDone(), set()
        defaults["callbacks"] = [*defaults.get("callbacks", []), SlowBf16Warning(), OutOfMemoryAdvice(),
                                                      UtilizationMonitor(), self._work]
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            if not self._work.done:  # failed at start (a missing file, a bad setting): leave no empty log folders
                for folder in self._new_dirs:
                    shutil.rmtree(folder, ignore_errors=True)
            raise

    def _note_new_dirs(self) -> None:
        """Before the subcommand runs: the run's folders that do not exist yet (the loggers make theirs at start)."""
        folders = [self.trainer.default_root_dir, *(logger.log_dir for logger in self.trainer.loggers)]
        self._new_dirs = {_topmost_missing(f) for f in folders if f and not os.path.exists(f)}

    before_fit = before_validate = before_test = before_predict = _note_new_dirs

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.every_n_train_steps": 500,
                             "checkpoint.filename": "step-{step}", "checkpoint.save_top_k": 1})
        parser.link_arguments("trainer.default_root_dir", "checkpoint.dirpath", compute_fn=_checkpoint_dir)
        parser.add_lightning_class_args(ModelCheckpoint, "best_checkpoint")
        monitor, mode = self._best
        parser.set_defaults({"best_checkpoint.monitor": monitor, "best_checkpoint.mode": mode,
                             "best_checkpoint.filename": "best", "best_checkpoint.save_top_k": 1,
                             "best_checkpoint.enable_version_counter": False})
        parser.link_arguments("trainer.default_root_dir", "best_checkpoint.dirpath", compute_fn=_checkpoint_dir)
        parser.add_lightning_class_args(SigtermCheckpoint, "sigterm_checkpoint")
        parser.link_arguments("trainer.default_root_dir", "sigterm_checkpoint.dirpath", compute_fn=_checkpoint_dir)
        parser.add_lightning_class_args(ProgressLog, "progress_log")
        for source, target, apply_on in self._links:
            parser.link_arguments(source, target, apply_on=apply_on)


    def instantiate_trainer(self, **kwargs):
        """The trainer, with a StepProgressBar unless the bar is off or the config names its own."""
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        trainer = config.get("trainer") or {}
        callbacks = list(kwargs.get("callbacks", trainer.get("callbacks")) or [])
        if trainer.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
            kwargs["callbacks"] = [*callbacks, StepProgressBar()]
        return super().instantiate_trainer(**kwargs)

    def parse_arguments(self, parser, args) -> None:
        """``validate``/``test``/``predict`` with ``--ckpt_path best|last``: the files under the run's checkpoints/.

        (Lightning resolves those names only inside the process that trained.)
        """
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand in (None, "fit"):
            return
        config = self.config[subcommand]
        if config.get("ckpt_path") in ("best", "last"):
            path = os.path.join(_checkpoint_dir(config.trainer.default_root_dir), f"{config.ckpt_path}.ckpt")
            if not os.path.isfile(path):
                raise UserInputError(f"--ckpt_path {config.ckpt_path}: {path} does not exist (run fit first, "
                                     f"or give the checkpoint's path)")
            config.ckpt_path = path

    def before_instantiate_classes(self) -> None:
        """The model's vocab_size (see ``_resolve_vocab_size``). Evaluating a checkpoint: the DataModule takes
        the tokenizer (unless one is given), the labels stored in it, so a test file need not contain every
        entity type, and its label scheme, so the checkpoint is decoded as it was trained."""
        subcommand = self.config.get("subcommand")
        _resolve_vocab_size(self.config[subcommand] if subcommand else self.config)
        if subcommand in (None, "fit"):
            return
        config = self.config[subcommand]
        data = config.get("data")
        if not config.get("ckpt_path") or data is None:
            return
        if "tokenizer_checkpoint" in data and not data.get("tokenizer"):
            data.tokenizer_checkpoint = config.ckpt_path
        if "labels" in data:
            hparams = load_checkpoint_file(config.ckpt_path).get(self.model_class.CHECKPOINT_HYPER_PARAMS_KEY, {})
            if not data.get("labels"):  # the label set the checkpoint was trained with
                data.labels = hparams.get("label_names")
            data.label_scheme = hparams.get("label_scheme", "all")


def _resolve_vocab_size(config) -> None:
    """A pretraining model's vocab_size when nothing gives it: the tokenizer's number of pieces.

    Given means: ``--model.vocab_size``, ``vocab_size`` in the ``albert_config`` dict of a YAML config, the
    ``albert_config.json`` file named, or the config stored with ``model.init_from`` when no albert_config is
    given (fine-tuning and continued pretraining keep their model's size). Otherwise it is ``data.tokenizer``'s
    size, else the size stored with ``model.init_from`` or ``--ckpt_path``. The DataModule then refuses a
    tokenizer larger than the model and warns about one smaller (unused embedding rows).
    """
    model, data = config.get("model"), config.get("data")
    if model is None or "vocab_size" not in model or model.get("vocab_size") is not None:
        return  # not the pretraining module, or given
    albert_config = model.get("albert_config")
    if albert_config is None or isinstance(albert_config, str) or "vocab_size" in albert_config:
        return  # a file's, or init_from's stored config (or the error that there is none)
    if data is not None and data.get("tokenizer"):
        model.vocab_size = load_tokenizer(data.tokenizer, data.get("do_lower_case", True)).vocab_size
        return
    for source in (model.get("init_from"), _checkpoint_path(config)):
        if source and os.path.exists(source):
            model.vocab_size = _stored_vocab_size(source)
            return
    raise UserInputError("the model's vocab_size is not given: pass --data.tokenizer (the model takes its number "
                         "of pieces) or --model.vocab_size")


def _checkpoint_path(config) -> str | None:
    path = config.get("ckpt_path")
    if path in ("best", "last"):
        path = os.path.join(_checkpoint_dir(config.trainer.default_root_dir), f"{path}.ckpt")
    return path


def _stored_vocab_size(source: str) -> int:
    """vocab_size of a ``save_pretrained`` directory or of one of our checkpoints."""
    if os.path.isdir(source):
        path = os.path.join(source, "config.json")
        if not os.path.isfile(path):
            raise UserInputError(f"init_from {source}: no config.json (expected a save_pretrained directory)")
        with open(path, encoding="utf-8") as f:
            return json.load(f)["vocab_size"]
    hparams = load_checkpoint_file(source).get("hyper_parameters", {})
    albert_config = hparams.get("albert_config")
    if not isinstance(albert_config, dict) or "vocab_size" not in albert_config:
        raise UserInputError(f"{source}: no model config stored (not a checkpoint of scripts/pretrain.py?)")
    return albert_config["vocab_size"]


def run_cli(model_class, datamodule_class, **kwargs) -> None:
    """Run the CLI; bad input (ours) ends with one ``error:`` line and exit code 2, no traceback."""
    quiet_library_output()
    try:
        AlbertCLI(model_class, datamodule_class, **kwargs)
    except SIGTERMException:
        print(f"stopped by SIGTERM after the current batch; the state is in checkpoints/{SigtermCheckpoint.FILE_NAME}: "
              "rerun with --ckpt_path last to continue", file=sys.stderr)
        sys.exit(143)
    except torch.OutOfMemoryError as e:
        print(f"error: {getattr(e, 'advice', e)}", file=sys.stderr)  # advice: callbacks.OutOfMemoryAdvice
        sys.exit(2)
    except (UserInputError, TrainingStoppedError) as e:
        # Errors raised in DataLoader workers come back wrapped with the worker's traceback: keep the message.
        message = [line for line in str(e).strip().splitlines() if line.strip()][-1]
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
