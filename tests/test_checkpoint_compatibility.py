"""A tagger checkpoint in the format of before the module saved its own text encoding (tests/fixtures/README.md)
still loads: it predicts through predict.py's path, exports to HF, and finetune.py test evaluates it."""
import json

from conftest import REPO, run_script, seed_train_csv
from lightning_modules.inference.hf_export import export_checkpoint
from lightning_modules.inference.span_predictor import SpanPredictor

OLD_TAGGER = REPO / "tests" / "fixtures" / "old_format_tagger.ckpt"
TRAINED_ON = ["I like the mala steamboat a lot!", "The chicken rice doesn't taste nice."]  # the seed's reviews


def spans(predicted: list[list[dict]]) -> list[list[tuple[int, int, str]]]:
    return [[(e["start"], e["end"], e["text"]) for e in entities] for entities in predicted]


def test_old_checkpoint_predicts_and_exports(tmp_path):
    predictor = SpanPredictor(str(OLD_TAGGER), "cpu")
    tagger = predictor.tagger
    assert (tagger.label_names, tagger.max_seq_length, tagger.window_overlap, tagger.label_scheme) == (
        ["O", "B-Dish", "I-Dish"], 32, 8, "first")
    predicted = spans(predictor.predict(TRAINED_ON))
    assert predicted == [[(11, 25, "mala steamboat")], [(4, 16, "chicken rice")]]
    export_checkpoint(str(OLD_TAGGER), str(tmp_path / "hf"))
    assert json.loads((tmp_path / "hf" / "tagger.json").read_text()) == {
        "max_seq_length": 32, "window_overlap": 8, "label_scheme": "first"}
    assert spans(SpanPredictor(str(tmp_path / "hf"), "cpu").predict(TRAINED_ON)) == predicted


def test_finetune_test_evaluates_an_old_checkpoint(tmp_path):
    result = run_script("finetune.py", "test", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
                        "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path),
                        "--model.init_from", str(OLD_TAGGER), "--ckpt_path", str(OLD_TAGGER),
                        "--data.test_file", str(seed_train_csv(tmp_path)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/f1" in result.stdout
