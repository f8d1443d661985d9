"""Real DDP on this machine: 2 CPU processes (gloo) through scripts/pretrain.py, as on a GPU cluster."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLE_VOCAB_SIZE
from datamodules.pretraining.datamodule import PretrainingRecords


@pytest.mark.slow
def test_two_process_ddp_shards_data_keeps_weights_equal_and_reduces_metrics(sample_tfrecord, tmp_path):
    data = sample_tfrecord  # 2000 records
    probe = tmp_path / "probe"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, str(REPO / "scripts" / "pretrain.py"), "fit", "--config", "configs/pretrain_toy.yaml",
            "--data.train_files", str(data), "--model.vocab_size", str(SAMPLE_VOCAB_SIZE), "--data.batch_size", "50",
            "--data.num_workers", "2", "--data.val_files", str(data),
            "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
            "--trainer.max_epochs", "1", "--trainer.max_steps", "-1", "--trainer.val_check_interval", "10",
            "--trainer.limit_val_batches", "4", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(tmp_path / "run"),
            "--trainer.callbacks+=probes.StepProbe", f"--trainer.callbacks.out_dir={probe}"]
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(r["world_size"] == 2 for r in ranks)
    # (a) identical weights on both ranks after every optimizer step
    assert ranks[0]["weight_hashes"] == ranks[1]["weight_hashes"] and len(ranks[0]["weight_hashes"]) == 20
    assert len(set(ranks[0]["weight_hashes"])) == 20  # and they did change every step
    # (b) one epoch: the ranks' samples are disjoint and together exactly the dataset
    seen = [[i for batch in r["records"] for i in batch] for r in ranks]
    assert len(seen[0]) == len(seen[1]) == 1000
    assert sorted(seen[0] + seen[1]) == list(range(len(PretrainingRecords([str(data)]))))
    # (c) validation metrics are reduced across ranks: both report the same value
    assert ranks[0]["val_loss"] and ranks[0]["val_loss"] == ranks[1]["val_loss"]
