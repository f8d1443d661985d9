"""scripts/compare.py end to end at test size, and its report computed from the numbers."""
import json

import yaml

from conftest import REPO, SAMPLE_VOCAB_SIZE, assert_one_line_error, run_script, seed_train_csv
from lightning_modules.reporting.comparison_report import answer, markdown


def test_compare_runs_both_models_end_to_end(sample_tfrecord, sample_spm, tmp_path):
    """configs/compare_tiny.yaml's sizes and budgets on the sample's records and tokenizer, fine-tuned and tested
    on the seed tutorial's two reviews."""
    two_reviews = seed_train_csv(tmp_path)
    config = yaml.safe_load((REPO / "configs" / "compare_tiny.yaml").read_text(encoding="utf-8"))
    config["tokenizer"] = str(sample_spm)
    config["pretrain"]["args"].update({"data.train_files": str(sample_tfrecord), "data.do_lower_case": True})
    config["finetune"]["test_file"] = str(two_reviews)
    config["finetune"]["args"].update({"data.train_file": str(two_reviews), "data.val_file": str(two_reviews),
                                       "data.do_lower_case": True})
    (tmp_path / "compare.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run_script("compare.py", "--config", str(tmp_path / "compare.yaml"), "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    albert, bert = report["models"]["albert"], report["models"]["bert"]
    # Same hidden size and layers; ALBERT shares its layers and factorises its embeddings.
    assert albert["model_config"]["hidden_size"] == bert["model_config"]["hidden_size"] == 32
    assert albert["model_config"]["vocab_size"] == bert["model_config"]["vocab_size"] == SAMPLE_VOCAB_SIZE
    assert albert["parameters"]["total"] < bert["parameters"]["total"]
    assert albert["parameters"]["embedding"] < bert["parameters"]["embedding"]
    assert albert["disk_mb"]["safetensors"] < bert["disk_mb"]["safetensors"]
    for model in (albert, bert):
        assert model["pretrain"]["sequences_per_s"] > 0 and 0 < model["pretrain"]["loss_last"] < 20
        for init in ("pretrained", "none"):
            assert model["finetune"][init]["seconds"] > 0 and 0 <= model["finetune"][init]["test"]["f1"] <= 1
        timing = model["inference"]
        assert 0 < timing["latency_ms_batch1"]["p50"] <= timing["latency_ms_batch1"]["p95"]
        assert timing["reviews_per_s_batch32"] > 0 and timing["peak_rss_mb"] > 0
    text = (tmp_path / "report.md").read_text()
    assert answer(report) in text and "| encoder parameters | 23,744 | 46,400 |" in text
    assert (tmp_path / "report.png").stat().st_size > 1000
    assert (tmp_path / "bert" / "pretrain.log").is_file()
    assert (tmp_path / "bert" / "hf_tagger" / "config.json").is_file()


def fake_results(albert_f1, bert_f1):
    def model(total, embedding, speed, latency, f1):
        return {"parameters": {"total": total, "embedding": embedding}, "disk_mb": {"safetensors": total / 2.5e5,
                                                                                     "checkpoint": total / 1e5},
                "pretrain": {"sequences_per_s": speed, "seconds": 100.0, "loss_last": 6.0, "peak_rss_mb": 900.0},
                "finetune": {init: {"seconds": 60.0, "peak_rss_mb": 800.0, "test": {"f1": f, "precision": f,
                                                                                    "recall": f}}
                             for init, f in zip(("pretrained", "none"), f1)},
                "inference": {"latency_ms_batch1": {"p50": latency, "p95": 2 * latency},
                              "latency_ms_per_review_batch32": {"p50": latency / 4, "p95": latency / 2},
                              "reviews_per_s_batch32": 1000 / latency, "peak_rss_mb": 500.0}}
    return {"task": "t", "config": "c.yaml", "date": "2026-11-25", "machine": "m", "hidden_size": 256,
            "num_layers": 4, "batch_size": 32,
            "models": {"albert": model(2_000_000, 1_000_000, 50.0, 4.4, albert_f1),
                       "bert": model(6_000_000, 2_000_000, 40.0, 4.0, bert_f1)}}


def test_answer_is_computed_from_the_numbers():
    text = answer(fake_results((0.60, 0.50), (0.65, 0.55)))
    assert "ALBERT has 3.0x fewer encoder parameters than BERT (2.00M vs 6.00M; embeddings 1.00M vs 2.00M)" in text
    assert "pretrains at 1.25x BERT's speed (50.0 vs 40.0 sequences/s)" in text
    assert "1.10x BERT's time per review at batch 1 (p50 4.4 vs 4.0 ms)" in text
    assert "ALBERT 0.600 vs BERT 0.650 (-0.050); without pretraining 0.500 vs 0.550 (-0.050)" in text
    assert "+0.100 for ALBERT and +0.100 for BERT" in text
    assert "| test precision / recall, no pretraining | 0.500 / 0.500 | 0.550 / 0.550 |" in markdown(
        fake_results((0.60, 0.50), (0.65, 0.55)))


def test_compare_config_errors_are_one_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("task: x\noutput_dir: out\ntokenizer: t.model\npretrain: {config: configs/pretrain_toy.yaml}\n")
    assert_one_line_error(run_script("compare.py", "--config", str(config)), "missing the key 'finetune'")
    config.write_text("task: x\noutput_dir: out\ntokenizer: t.model\npretrain: {config: nope.yaml}\nfinetune: {}\n")
    assert_one_line_error(run_script("compare.py", "--config", str(config)),
                          "pretrain.config must name an existing LightningCLI YAML, got nope.yaml")
    config.write_text("task: x\noutput_dir: out\ntokenizer: t.model\nfinetune: {config: configs/finetune_toy.yaml}\n"
                      "pretrain: {config: configs/pretrain_toy.yaml, args: [trainer.max_steps, 5]}\n")
    assert_one_line_error(run_script("compare.py", "--config", str(config)), "pretrain.args must be a mapping")
