"""scripts/pretrain.py end to end: train, resume from last, and every bad input as a one-line error."""
import shutil

import pytest
import torch

from conftest import SAMPLE_VOCAB_SIZE, assert_one_line_error, run_script

TOY = ["fit", "--config", "configs/pretrain_toy.yaml", "--trainer.enable_progress_bar", "false",
       "--trainer.val_check_interval", "5", "--checkpoint.every_n_train_steps", "5", "--data.batch_size", "16"]


def test_fit_then_resume_from_last_continues_steps_and_schedule(sample_tfrecord, sample_spm, tmp_path):
    args = TOY + ["--data.train_files", str(sample_tfrecord), "--data.tokenizer", str(sample_spm),
                  "--model.vocab_size", str(SAMPLE_VOCAB_SIZE), "--model.warmup_steps", "4",
                  "--trainer.default_root_dir", str(tmp_path)]
    first = run_script("pretrain.py", *args, "--trainer.max_steps", "10", "--progress_log.every_n_steps", "5")
    assert first.returncode == 0, first.stderr[-3000:]
    # stdout is a pipe, not a terminal: a progress line every 5 steps, as a SLURM log would get
    progress = [line for line in first.stdout.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in progress] == ["5/10", "10/10"], first.stdout[-2000:]
    assert all(f" {name} " in progress[-1] for name in ("loss", "mlm_accuracy", "sop_accuracy", "sequences/s", "eta"))
    ckpt_dir = tmp_path / "checkpoints"
    assert {"last.ckpt", "best.ckpt"} <= {p.name for p in ckpt_dir.iterdir()}
    after_first = torch.load(ckpt_dir / "last.ckpt", map_location="cpu", weights_only=False)
    assert after_first["global_step"] == 10
    assert after_first["PretrainingDataModule"]["tokenizer"]["file_name"] == "spm.model"
    shutil.copy(ckpt_dir / "last.ckpt", tmp_path / "first.ckpt")

    second = run_script("pretrain.py", *args, "--trainer.max_steps", "20", "--ckpt_path", "last",
                        "--progress_log.every_n_steps", "5")
    assert second.returncode == 0, second.stderr[-3000:]
    assert [line.split()[1] for line in second.stdout.splitlines() if line.startswith("step ")] == ["15/20", "20/20"]
    resumed = torch.load(ckpt_dir / "last.ckpt", map_location="cpu", weights_only=False)
    assert resumed["global_step"] == 20
    scheduler = resumed["lr_schedulers"][0]
    assert scheduler["last_epoch"] == 20
    # warmup 4 then linear decay to 0 at step 20: the schedule kept counting from the checkpoint
    assert scheduler["_last_lr"][0] == pytest.approx(0.01 * (1 - 20 / 20), abs=1e-9)
    moved = [not torch.equal(after_first["state_dict"][k], v) for k, v in resumed["state_dict"].items()]
    assert any(moved)
    tb_events = list(tmp_path.glob("lightning_logs/*/events.out.tfevents.*"))
    assert tb_events


@pytest.mark.parametrize("case", ["glob", "vocab", "positions", "truncated", "token_id", "config"])
def test_bad_input_is_one_line_error(sample_tfrecord, sample_tfrecord_512, sample_spm, tmp_path, case):
    base = TOY + ["--trainer.max_steps", "2", "--trainer.default_root_dir", str(tmp_path / "run")]
    train = ["--data.train_files", str(sample_tfrecord)]
    vocab = str(SAMPLE_VOCAB_SIZE)
    if case == "truncated":
        broken = tmp_path / "broken.tfrecord"
        broken.write_bytes(sample_tfrecord.read_bytes()[:5000])
        train = ["--data.train_files", str(broken)]
    args, fragments = {
        "glob": (["--data.train_files", str(tmp_path / "nothing*.tfrecord"), "--model.vocab_size", vocab],
                 ["nothing*.tfrecord", "matches no file"]),
        "vocab": (train + ["--data.tokenizer", str(sample_spm), "--model.vocab_size", "300"],
                  [f"{vocab} pieces", "vocab_size is 300"]),
        "positions": (["--data.train_files", str(sample_tfrecord_512), "--model.vocab_size", vocab],
                      ["max_seq_length 512", "max_position_embeddings 128"]),
        "truncated": (train + ["--model.vocab_size", vocab], ["broken.tfrecord", "byte offset", "truncated"]),
        "token_id": (train + ["--model.vocab_size", "100"], [sample_tfrecord.name, "token id", "vocab_size 100"]),
        "config": (train + ["--model.albert_config", str(tmp_path / "none.json")], ["none.json", "does not exist"]),
    }[case]
    assert_one_line_error(run_script("pretrain.py", *base, *args), *fragments)


@pytest.mark.parametrize("script", ["build_vocab.py", "create_pretraining_data.py", "pretrain.py", "finetune.py",
                                    "predict.py", "make_sample_data.py", "plot_curves.py", "export_hf.py", "compare.py",
                                    "benchmark.py"])
def test_every_script_has_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0 and "usage" in result.stdout.lower()
