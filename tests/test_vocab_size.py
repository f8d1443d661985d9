"""The pretraining model's vocab_size: the tokenizer's unless given; a smaller one is an error, a larger a warning."""
import pytest
import torch

from conftest import SAMPLE_VOCAB_SIZE, assert_one_line_error, run_script

TOY = ["--config", "configs/pretrain_toy.yaml", "--trainer.enable_progress_bar", "false", "--trainer.max_steps", "1",
       "--data.batch_size", "8", "--trainer.limit_val_batches", "1"]


def stored_vocab_size(root) -> int:
    checkpoint = torch.load(root / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return checkpoint["hyper_parameters"]["albert_config"]["vocab_size"]


def test_the_model_takes_the_tokenizer_s_size_and_continued_runs_keep_theirs(sample_tfrecord, sample_spm, tmp_path):
    data = ["--data.train_files", str(sample_tfrecord)]
    result = run_script("pretrain.py", "fit", *TOY, *data, "--data.tokenizer", str(sample_spm),
                        "--trainer.default_root_dir", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert stored_vocab_size(tmp_path / "a") == SAMPLE_VOCAB_SIZE and "never used" not in result.stderr
    # continued pretraining from it, and validating it, with no tokenizer named: the checkpoint's size
    first = str(tmp_path / "a" / "checkpoints" / "last.ckpt")
    result = run_script("pretrain.py", "fit", *TOY, *data, "--model.init_from", first,
                        "--trainer.default_root_dir", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert stored_vocab_size(tmp_path / "b") == SAMPLE_VOCAB_SIZE
    result = run_script("pretrain.py", "validate", *TOY, "--data.val_files", str(sample_tfrecord),
                        "--ckpt_path", first, "--trainer.default_root_dir", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_given_size_larger_than_the_tokenizer_warns(sample_tfrecord, sample_spm, tmp_path):
    result = run_script("pretrain.py", "fit", *TOY, "--data.train_files", str(sample_tfrecord), "--data.tokenizer",
                        str(sample_spm), "--model.vocab_size", str(SAMPLE_VOCAB_SIZE + 100),
                        "--trainer.default_root_dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"the model's vocab_size {SAMPLE_VOCAB_SIZE + 100} is larger than data.tokenizer's {SAMPLE_VOCAB_SIZE} "
            f"pieces: 100 embedding rows are never used") in " ".join(result.stderr.split())
    assert stored_vocab_size(tmp_path) == SAMPLE_VOCAB_SIZE + 100


@pytest.mark.parametrize("args, fragments", [
    (["--model.vocab_size", "300"],
     [f"has {SAMPLE_VOCAB_SIZE} pieces", "vocab_size is 300", "leave model.vocab_size unset"]),
    (["--model.albert_config.vocab_size", "300"], [f"has {SAMPLE_VOCAB_SIZE} pieces", "vocab_size is 300"]),
    (["--data.tokenizer", "null"], ["vocab_size is not given", "--data.tokenizer", "--model.vocab_size"]),
])
def test_a_smaller_size_or_none_at_all_is_a_one_line_error(sample_tfrecord, sample_spm, tmp_path, args, fragments):
    result = run_script("pretrain.py", "fit", *TOY, "--data.train_files", str(sample_tfrecord), "--data.tokenizer",
                        str(sample_spm), *args, "--trainer.default_root_dir", str(tmp_path))
    assert_one_line_error(result, *fragments)
