"""bf16 on a CPU without native bf16: measured, and said once at start-up (simulated both ways)."""
import math

import lightning.pytorch as pl
import pytest

from conftest import REPO, SAMPLE_VOCAB_SIZE
from lightning_modules import cpu_bf16
from lightning_modules.callbacks import SlowBf16Warning


def simulate(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(cpu_bf16, "bf16_matmul_slowdown", lambda: 0.8 if native else 48.0)


def test_slowdown_is_measured_on_this_cpu():
    ratio = cpu_bf16.bf16_matmul_slowdown()
    assert math.isfinite(ratio) and ratio > 0
    assert cpu_bf16.native_bf16() == (ratio < cpu_bf16.SLOW_BF16_RATIO)
    assert isinstance(cpu_bf16.cpu_capability(), str) and cpu_bf16.cpu_capability()


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true", "32-true"])
def test_bf16_warning_at_setup_only_without_native_bf16(monkeypatch, capsys, native, precision):
    simulate(monkeypatch, native)
    trainer = pl.Trainer(accelerator="cpu", devices=1, precision=precision, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False)
    SlowBf16Warning().setup(trainer, None, "fit")
    err = capsys.readouterr().err
    if native or precision == "32-true":
        assert err == ""
    else:
        [line] = err.strip().splitlines()
        assert line.startswith(f"warning: trainer.precision={precision} on a CPU without native bf16")
        assert cpu_bf16.cpu_capability() in line and "48x slower" in line and "32-true" in line


def test_every_training_script_gets_the_warning_callback(sample_tfrecord):
    from datamodules.pretraining.datamodule import PretrainingDataModule
    from lightning_modules.albert_pretrain import AlbertPretrainModule
    from lightning_modules.cli import AlbertCLI

    cli = AlbertCLI(AlbertPretrainModule, PretrainingDataModule, run=False, args=[
        "--config", str(REPO / "configs" / "pretrain_toy.yaml"), "--model.vocab_size", str(SAMPLE_VOCAB_SIZE),
        "--data.train_files", str(sample_tfrecord)])
    assert sum(isinstance(c, SlowBf16Warning) for c in cli.trainer.callbacks) == 1
