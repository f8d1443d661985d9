"""Pre-emption: a run killed mid-epoch and resumed with --ckpt_path last ends exactly where an
uninterrupted run ends (same weights, same records in the same order); SIGTERM saves and exits cleanly."""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO, SAMPLE_VOCAB_SIZE


def pretrain(data, root, probe_dir, *extra, signal_at=-1, signal_name="SIGKILL"):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, str(REPO / "scripts" / "pretrain.py"), "fit", "--config", "configs/pretrain_toy.yaml",
            "--data.train_files", str(data),
            "--model.vocab_size", str(SAMPLE_VOCAB_SIZE), "--data.batch_size", "50", "--data.num_workers", "2",
            "--trainer.max_steps", "60", "--checkpoint.every_n_train_steps", "10",
            "--data.val_fraction", "0", "--trainer.limit_val_batches", "0",  # all 2000 records: 40 batches an epoch
            "--model.albert_config.hidden_dropout_prob", "0.1",  # dropout on: the RNG must resume too
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root),
            "--trainer.callbacks+=probes.StepProbe", f"--trainer.callbacks.out_dir={probe_dir}",
            f"--trainer.callbacks.signal_at_step={signal_at}", f"--trainer.callbacks.signal_name={signal_name}", *extra]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def records(probe_dir, rank=0):
    return json.loads((probe_dir / f"rank{rank}.json").read_text())["records"]


def final_weights(root):
    return torch.load(root / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(sample_tfrecord, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    result = pretrain(sample_tfrecord, root, root / "probe")
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.mark.slow
# 40 batches per epoch: resume at the epoch boundary, mid-epoch 1 (after an epoch end), and after SIGTERM
# mid-epoch 0. (test_killed_ddp_run_resumes_exactly resumes mid-epoch under DDP.)
@pytest.mark.parametrize("signal_name, signal_at, resumes_from",
                         [("SIGKILL", 45, 40), ("SIGKILL", 55, 50), ("SIGTERM", 15, 15)])
def test_killed_run_resumes_exactly(sample_tfrecord, uninterrupted, tmp_path, signal_name, signal_at, resumes_from):
    killed = pretrain(sample_tfrecord, tmp_path, tmp_path / "before", signal_at=signal_at, signal_name=signal_name)
    if signal_name == "SIGKILL":
        assert killed.returncode == -9
    else:  # Lightning stops after the batch, our CLI saves interrupted.ckpt and says how to go on
        assert killed.returncode == 143, killed.stderr[-3000:]
        assert "--ckpt_path last" in killed.stderr.strip().splitlines()[-1]
        assert (tmp_path / "checkpoints" / "last-interrupted.ckpt").is_file()
    resumed = pretrain(sample_tfrecord, tmp_path, tmp_path / "after", "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    reference = records(uninterrupted / "probe")
    before, after = records(tmp_path / "before"), records(tmp_path / "after")
    assert len(reference) == 60 and len(after) == 60 - resumes_from
    assert before[:resumes_from] + after == reference  # no record repeated or skipped, across the epoch end
    assert_same_weights(final_weights(tmp_path), final_weights(uninterrupted))


def assert_same_weights(ours, theirs):
    for name, tensor in theirs.items():
        assert torch.allclose(ours[name], tensor, rtol=0, atol=1e-6), name


DDP = ("--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp")


@pytest.mark.slow
def test_killed_ddp_run_resumes_exactly(sample_tfrecord, tmp_path):
    """2 processes x 2 loader workers, 20 batches per rank and epoch: killed at step 35, resumed from 30."""
    reference = pretrain(sample_tfrecord, tmp_path / "reference", tmp_path / "reference" / "probe", *DDP)
    assert reference.returncode == 0, reference.stderr[-3000:]
    killed = pretrain(sample_tfrecord, tmp_path / "run", tmp_path / "before", *DDP, signal_at=35)
    assert killed.returncode == -9
    resumed = pretrain(sample_tfrecord, tmp_path / "run", tmp_path / "after", *DDP, "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for rank in range(2):
        before, after = records(tmp_path / "before", rank), records(tmp_path / "after", rank)
        assert before[:30] + after == records(tmp_path / "reference" / "probe", rank) and len(after) == 30
    assert_same_weights(final_weights(tmp_path / "run"), final_weights(tmp_path / "reference"))


def test_out_of_memory_names_the_config_and_a_way_out(sample_tfrecord, tmp_path):
    result = pretrain(sample_tfrecord, tmp_path, tmp_path / "probe", "--trainer.callbacks.out_of_memory=true")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: out of memory with data.batch_size=50") and "accumulate_grad_batches" in last
