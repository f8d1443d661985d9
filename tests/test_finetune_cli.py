"""finetune.py fit/test and predict.py end to end, from a pretraining checkpoint; bad inputs as one-line errors."""
import json
import re
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLE_VOCAB_SIZE, assert_one_line_error, run_script

FAST = ["--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu"]


@pytest.fixture(scope="module")
def pretrained(sample_tfrecord, sample_spm, tmp_path_factory):
    """A tiny pretraining checkpoint that carries its tokenizer (the sample's, SAMPLE_VOCAB_SIZE pieces)."""
    root = tmp_path_factory.mktemp("pretrain")
    result = run_script("pretrain.py", "fit", "--config", "configs/pretrain_toy.yaml", *FAST,
                        "--data.train_files", str(sample_tfrecord),
                        "--data.tokenizer", str(sample_spm), "--model.vocab_size", str(SAMPLE_VOCAB_SIZE),
                        "--trainer.max_steps", "5", "--trainer.default_root_dir", str(root))
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "checkpoints" / "last.ckpt"


def test_fit_test_and_predict(pretrained, tmp_path):
    run = tmp_path / "ft"
    common = ["--config", "configs/finetune_toy.yaml", *FAST, "--model.init_from", str(pretrained),
              "--trainer.default_root_dir", str(run)]
    fit = run_script("finetune.py", "fit", *common, "--trainer.max_epochs", "2")
    assert fit.returncode == 0, fit.stderr[-3000:]
    best = run / "checkpoints" / "best.ckpt"
    assert best.is_file()
    test = run_script("finetune.py", "test", *common, "--data.test_file", "data/sample/dish_val.csv",
                      "--ckpt_path", str(best))
    assert test.returncode == 0, test.stderr[-3000:]
    assert "test/f1" in test.stdout and "test/token_accuracy" in test.stdout
    # a test file without any dish: the labels come from the checkpoint, not from the file
    no_dish = tmp_path / "no_dish.csv"
    no_dish.write_text('review,dish_name\n"The service was slow.",""\n"Nice view.",""\n')
    only = run_script("finetune.py", "test", *common, "--data.train_file", "null", "--data.val_file", "null",
                      "--data.test_file", str(no_dish), "--ckpt_path", "best")
    assert only.returncode == 0, only.stderr[-3000:]

    text = "The Mala Steamboat (spicy!) was great, and so was the chicken rice."
    predict = subprocess.run([sys.executable, str(REPO / "scripts" / "predict.py"), "--model", str(best),
                              "--input", "-"], input=text + "\n\n", capture_output=True, text=True, cwd=REPO,
                             timeout=300)
    assert predict.returncode == 0, predict.stderr
    (line,) = predict.stdout.splitlines()
    record = json.loads(line)
    assert record["text"] == text
    for dish in record["dishes"]:
        assert text[dish["start"]:dish["end"]] == dish["text"] and 0 < dish["score"] <= 1

    out = tmp_path / "out" / "dishes.jsonl"
    to_file = run_script("predict.py", "--model", str(best), "--input", "data/sample/dish_val.csv",
                         "--output", str(out))
    assert to_file.returncode == 0, to_file.stderr
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(records) == len({r["text"] for r in records}) > 50

    # scripts/score_spans.py on predict.py's output gives finetune.py test's F1: one way of counting
    texts, scored, gold = tmp_path / "texts.txt", tmp_path / "scored.jsonl", "data/sample/dish_val.csv"
    assert run_script("score_spans.py", "--gold", gold, "--write-texts", str(texts)).returncode == 0
    tagged = run_script("predict.py", "--model", str(best), "--input", str(texts), "--output", str(scored))
    assert tagged.returncode == 0, tagged.stderr
    score = run_script("score_spans.py", "--gold", gold, "--predictions", str(scored), "--json")
    assert score.returncode == 0, score.stderr
    test_f1 = float(re.search(r"test/f1\D+([0-9.]+)", test.stdout).group(1))
    assert json.loads(score.stdout)["f1"] == pytest.approx(test_f1, abs=1e-4)


@pytest.mark.parametrize("case", ["columns", "bio_line", "unseen_label", "vocab_mismatch"])
def test_finetune_bad_input(pretrained, tmp_path, case):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("text,label\n\"a\",\"b\"\n")
    bad_bio = tmp_path / "bad.bio"
    bad_bio.write_text("fine\tO\nnot-a-valid-line\n")
    other = tmp_path / "other.bio"
    other.write_text("cheap\tB-Price\neats\tO\n\n")
    args, fragments = {
        "columns": (["--data.train_file", str(bad_csv)], ["bad.csv", "'review' and 'dish_name'"]),
        "bio_line": (["--data.train_file", str(bad_bio)], ["bad.bio:2", "token<TAB>label"]),
        "unseen_label": (["--data.val_file", str(other)], ["other.bio", "['Price']", "do not occur"]),
        "vocab_mismatch": (["--data.tokenizer", str(REPO / "models" / "albert-reviews-small" / "spiece.model")],
                           ["8000 pieces", f"vocab_size is {SAMPLE_VOCAB_SIZE}"]),
    }[case]
    result = run_script("finetune.py", "fit", "--config", "configs/finetune_toy.yaml", *FAST,
                        "--model.init_from", str(pretrained), "--trainer.max_steps", "1",
                        "--trainer.default_root_dir", str(tmp_path / "run"), *args)
    assert_one_line_error(result, *fragments)


def test_predict_bad_input(tmp_path):
    missing = run_script("predict.py", "--model", str(tmp_path / "m.ckpt"), "--input", str(tmp_path / "none.txt"))
    assert_one_line_error(missing, "none.txt", "does not exist")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    assert_one_line_error(run_script("predict.py", "--model", "x.ckpt", "--input", str(empty)), "empty input")
    (tmp_path / "reviews.txt").write_text("nice laksa\n")
    no_model = run_script("predict.py", "--model", str(tmp_path / "m.ckpt"), "--input", str(tmp_path / "reviews.txt"))
    assert_one_line_error(no_model, "m.ckpt", "does not exist")
