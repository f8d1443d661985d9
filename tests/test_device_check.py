"""The prepared accelerator run works end to end on a CPU with its tiny profile (what CI can keep working)."""
import json

import pytest

from conftest import REPO, assert_one_line_error, run_script


def test_tiny_device_check_reports_speed_mfu_and_memory_for_eager_and_compiled_runs(tmp_path):
    result = run_script("device_check.py", "--tiny", "--output", str(tmp_path / "check"), timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "check" / "device_check.json").read_text())
    assert report == json.loads(result.stdout[result.stdout.index("{"):])
    assert report["profile"] == "tiny" and report["steps"] == 30 and report["cpu_capability"]
    runs = report["pretraining"]
    assert set(runs) == {"eager", "compiled"}
    for run in runs.values():
        assert run["sequences_per_s"] > 0 and run["tflops"] > 0 and 0 < run["mfu"] < 1
        assert run["peak_memory_mb"] > 100 and run["seconds"] > 0
    # Same seed, same data, same steps: compiling changes the kernels, not the training.
    assert runs["compiled"]["loss_last"] == pytest.approx(runs["eager"]["loss_last"], abs=1e-3)
    assert 0 <= report["stages"]["finetuning"]["val_f1"] <= 1
    predictions = (tmp_path / "check" / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == len((REPO / "data/sample/unseen_reviews.txt").read_text().splitlines())


def test_missing_corpus_is_a_one_line_error(tmp_path):
    result = run_script("device_check.py", "--tiny", "--corpus", str(tmp_path / "none.txt"),
                        "--output", str(tmp_path / "check"))
    assert_one_line_error(result, "--corpus", "does not exist")
    assert not (tmp_path / "check").exists()
