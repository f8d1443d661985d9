"""A training run that fails at start (a missing file) leaves no empty log folders; older ones stay."""
from conftest import SAMPLE_VOCAB_SIZE, assert_one_line_error, run_script

TOY = ["fit", "--config", "configs/pretrain_toy.yaml", "--trainer.enable_progress_bar", "false",
       "--model.vocab_size", str(SAMPLE_VOCAB_SIZE), "--trainer.max_steps", "2"]


def test_a_run_failing_at_start_leaves_nothing_behind(tmp_path):
    missing = ["--data.train_files", str(tmp_path / "nothing*.tfrecord")]
    result = run_script("pretrain.py", *TOY, *missing, "--trainer.default_root_dir", str(tmp_path / "new" / "run"))
    assert_one_line_error(result, "nothing*.tfrecord", "matches no file")
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old" / "lightning_logs" / "version_0"
    old.mkdir(parents=True)
    (old / "events.out.tfevents.1").write_bytes(b"earlier run")
    result = run_script("pretrain.py", *TOY, *missing, "--trainer.default_root_dir", str(tmp_path / "old"))
    assert_one_line_error(result, "matches no file")
    assert sorted(p.relative_to(tmp_path / "old").as_posix() for p in tmp_path.rglob("*")) == [
        ".", "lightning_logs", "lightning_logs/version_0", "lightning_logs/version_0/events.out.tfevents.1"]


def test_a_run_failing_after_its_first_steps_keeps_its_logs(sample_tfrecord, tmp_path):
    """A NaN loss from the first step on: 3 skipped steps in a row stop the run with an error."""
    result = run_script("pretrain.py", *TOY, "--data.train_files", str(sample_tfrecord), "--data.batch_size", "4",
                        "--model.learning_rate", "1e30", "--model.warmup_steps", "0",
                        "--model.max_nonfinite_steps", "3", "--trainer.max_steps", "20",
                        "--trainer.default_root_dir", str(tmp_path / "run"))
    assert_one_line_error(result, "NaN/inf in 3 steps in a row")
    assert list((tmp_path / "run" / "lightning_logs").glob("version_0/events.out.tfevents.*"))
