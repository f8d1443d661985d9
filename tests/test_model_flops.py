"""MFU's FLOP count matches what torch counts, and training logs it (callbacks.UtilizationMonitor)."""
import lightning.pytorch as pl
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from conftest import SAMPLE_VOCAB_SIZE, TINY_ALBERT
from datamodules.pretraining.datamodule import PretrainingDataModule, PretrainingRecords, collate_pretraining
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.callbacks import UtilizationMonitor
from lightning_modules.model_flops import compute_dtype, peak_gflops


@pytest.mark.parametrize("model_type", ["albert", "bert"])
def test_counted_flops_equal_torch_s_count_of_a_training_step(sample_tfrecord, model_type):
    module = AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE},
                                  model_type=model_type)
    module.model.set_attn_implementation("eager")  # torch's counter skips the CPU flash-attention kernel
    records = PretrainingRecords([str(sample_tfrecord)])
    batch = collate_pretraining([records[i] for i in range(8)])
    with FlopCounterMode(display=False) as counter:
        module(batch)["loss"].backward()
    # Ours counts the encoder's and MLM head's matmuls; torch also counts the sentence-order pooler and classifier.
    pooler = 3 * 8 * (module.config.hidden_size ** 2 + 2 * module.config.hidden_size) * 2
    assert module.training_gflop(batch) == pytest.approx((counter.get_total_flops() - pooler) / 1e9, rel=1e-6)


def test_peak_follows_the_run_s_dtype_and_accelerators_come_from_lightning_s_table():
    assert compute_dtype("bf16-mixed") is torch.bfloat16 and compute_dtype("16-mixed") is torch.float16
    assert compute_dtype("32-true") is torch.float32 and compute_dtype(32) is torch.float32
    cpu_peak, source = peak_gflops(torch.device("cpu"), torch.float32)
    assert cpu_peak > 1 and "measured" in source


def test_training_logs_mfu_tflops_and_peak_memory(sample_tfrecord, tmp_path):
    module = AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE}, warmup_steps=2)
    data = PretrainingDataModule(train_files=str(sample_tfrecord), batch_size=8, val_fraction=0.0)
    logged = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, *args):
            logged.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")})

    trainer = pl.Trainer(max_steps=6, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[UtilizationMonitor(every_n_batches=3), Record()])
    trainer.fit(module, datamodule=data)
    assert "train/mfu" not in logged[1] and "train/mfu" in logged[2]  # first window: 3 batches
    last = logged[-1]
    assert 0 < last["train/mfu"] < 1 and last["train/tflops"] > 0 and last["train/peak_memory_mb"] > 50
