"""What a training run prints: a bar of steps out of max_steps, and the project's lines without the libraries'."""
import logging
import warnings

import lightning.pytorch as pl
import transformers
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import CSVLogger

from conftest import SAMPLE_VOCAB_SIZE, run_script
from lightning_modules.callbacks import StepProgressBar
from lightning_modules.quiet_output import LIGHTNING_INFO_LOGGER, quiet_library_output


class RecordingBar(StepProgressBar):
    """Also records (description, n, total) of the training bar at every epoch start and at the end."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_epoch_start(self, trainer, *args):
        super().on_train_epoch_start(trainer, *args)
        bar = self.train_progress_bar
        self.seen.append((bar.desc.removesuffix(": "), bar.n, bar.total))

    def on_train_end(self, trainer, pl_module):
        self.final = (self.train_progress_bar.n, self.train_progress_bar.total, self.train_progress_bar.postfix)
        super().on_train_end(trainer, pl_module)


class LoggingModel(BoringModel):
    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        self.log("loss", out["loss"], prog_bar=True)
        return out


def fit(tmp_path, max_steps, ckpt_path=None):
    bar = RecordingBar()
    trainer = pl.Trainer(max_steps=max_steps, limit_train_batches=4, accumulate_grad_batches=2, limit_val_batches=0,
                         callbacks=[bar], logger=CSVLogger(tmp_path), default_root_dir=tmp_path,
                         enable_model_summary=False)
    trainer.fit(LoggingModel(), ckpt_path=ckpt_path)
    return trainer, bar


def test_the_bar_counts_optimizer_steps_of_max_steps_across_epochs_and_a_resume(tmp_path):
    trainer, bar = fit(tmp_path, max_steps=5)  # 2 steps an epoch (4 batches, accumulating 2): 3 epochs
    assert bar.seen == [("epoch 0, step", 0, 5), ("epoch 1, step", 2, 5), ("epoch 2, step", 4, 5)]
    assert bar.final[:2] == (5, 5) and "loss=" in bar.final[2] and "v_num" not in bar.final[2]  # a logger, no v_num
    checkpoint = tmp_path / "five.ckpt"
    trainer.save_checkpoint(checkpoint)
    _, resumed = fit(tmp_path, max_steps=8, ckpt_path=str(checkpoint))
    assert resumed.seen[0][1:] == (5, 8) and resumed.final[:2] == (8, 8)


def test_without_max_steps_the_bar_counts_the_epoch_s_batches(tmp_path):
    bar = RecordingBar()
    pl.Trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=0, callbacks=[bar], logger=False,
               enable_checkpointing=False, default_root_dir=tmp_path).fit(BoringModel())
    assert [(n, total) for _, n, total in bar.seen] == [(0, 3), (0, 3)] and bar.final[:2] == (3, 3)


def test_library_chatter_is_dropped_and_ours_kept(monkeypatch, caplog):
    monkeypatch.delenv("ALBERT_VERBOSE", raising=False)
    monkeypatch.setattr("sys.warnoptions", [])
    logger = logging.getLogger(LIGHTNING_INFO_LOGGER)
    filters = list(logger.filters)
    try:
        with warnings.catch_warnings(record=True) as caught:
            quiet_library_output()
            for module in ("torch.utils._pytree", "copyreg", "transformers.modeling_utils", "lightning_modules.x"):
                warnings.warn_explicit("old API", FutureWarning, f"{module}.py", 1, module=module)
            warnings.warn_explicit("merged axis", UserWarning, "x.py", 1, module="torch.onnx._internal.exporter")
            warnings.warn_explicit("few workers", UserWarning, "x.py", 1, module="lightning.pytorch.trainer")
        assert [(str(w.message), w.filename) for w in caught] == [("old API", "lightning_modules.x.py"),
                                                                  ("few workers", "x.py")]
        with caplog.at_level(logging.INFO, logger=LIGHTNING_INFO_LOGGER):
            for line in ("💡 Tip: try installing litlogger", "GPU available: False, used: False",
                         "TPU available: False, using: 0 TPU cores", "GPU available: True (cuda), used: True"):
                logger.info(line)
        assert [r.getMessage() for r in caplog.records] == ["GPU available: True (cuda), used: True"]
        assert not transformers.utils.logging.is_progress_bar_enabled()  # "Writing model shards" and the like
    finally:
        logger.filters[:] = filters
        transformers.utils.logging.enable_progress_bar()


def test_a_pretraining_run_prints_steps_of_max_steps_and_no_library_chatter(sample_tfrecord, sample_spm, tmp_path):
    result = run_script("pretrain.py", "fit", "--config", "configs/pretrain_toy.yaml", "--data.train_files",
                        str(sample_tfrecord), "--data.tokenizer", str(sample_spm), "--data.batch_size", "16",
                        "--model.vocab_size", str(SAMPLE_VOCAB_SIZE), "--trainer.max_steps", "6",
                        "--trainer.val_check_interval", "3", "--trainer.default_root_dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    bar = result.stdout.replace("\r", "\n")  # Lightning's tqdm bars write to stdout
    assert "epoch 0, step: 100%" in bar and "| 6/6 [" in bar, bar[-2000:]
    for chatter in ("v_num", "Epoch 0/", "Tip:", "litlogger", "FutureWarning", "DeprecationWarning", "TPU available"):
        assert chatter not in result.stdout + result.stderr, chatter


def test_onnx_export_prints_its_summary_and_no_torch_warnings(tagger_ckpt, tmp_path):
    result = run_script("export_onnx.py", "--model", str(tagger_ckpt), "--output", str(tmp_path / "onnx"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"wrote {tmp_path / 'onnx'} (fp32") and result.stderr == ""
