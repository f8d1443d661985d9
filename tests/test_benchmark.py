"""Smoke run of the benchmark at tiny sizes: keys and sane values, never timing thresholds."""
import importlib.util
import json

import pytest

from conftest import REPO, SAMPLE, SAMPLE_VOCAB_SIZE, run_script, seed_train_csv
from lightning_modules import cpu_bf16
from lightning_modules.benchmarks import pretrain_step

TINY = ["--vocab-size", "300", "--embedding-size", "16", "--hidden-size", "32", "--num-layers", "2", "--num-heads", "2",
        "--intermediate-size", "64", "--seq-len", "32", "--batch-size", "4", "--max-predictions", "5", "--steps", "3",
        "--warmup-steps", "1", "--json"]


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_pretrain_benchmark_reports_both_sides(precision):
    # Tiny sizes run in bf16 even through the slow fallback of a CPU without native bf16.
    result = run_script("benchmark.py", "pretrain", *TINY, "--precision", precision, "--allow-slow-bf16")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    for key in ("sequences_per_s", "real_tokens_per_s", "reference_sequences_per_s", "reference_real_tokens_per_s",
                "speedup", "model_gflop_per_step", "achieved_gflops", "peak_rss_mb", "bf16_matmul_slowdown"):
        assert report[key] > 0, key
    assert report["cpu_capability"] == cpu_bf16.cpu_capability() and isinstance(report["native_bf16"], bool)
    # Only the peak of the dtype the run computes in; no utilization against the bf16 fallback's rate.
    assert list(report["matmul_peak_gflops"]) == ["bf16" if precision == "bf16-mixed" else "fp32"]
    if precision == "32" or report["native_bf16"]:
        assert report["utilization"] > 0
    else:
        assert report["utilization"] is None
    for side in ("loss", "reference_loss"):
        assert 0 < report[f"{side}_last"] < 20 and 0 < report[f"{side}_first"] < 20


def test_pretrain_benchmark_on_records(sample_tfrecord):
    tiny = [a if a != "300" else str(SAMPLE_VOCAB_SIZE) for a in TINY]
    tiny[tiny.index("--seq-len") + 1] = "128"
    result = run_script("benchmark.py", "pretrain", *tiny, "--data", str(sample_tfrecord))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["data"] == str(sample_tfrecord) and report["real_tokens_per_s"] < report["sequences_per_s"] * 128
    assert report["mean_batch_width"] < 128  # the DataModule's bucketed, trimmed batches; the reference's are 128


@pytest.mark.slow
def test_ddp_benchmark_runs_one_and_two_processes(sample_tfrecord):
    result = run_script("benchmark.py", "ddp", "--data", str(sample_tfrecord), "--steps", "8", "--warmup-steps", "2",
                        "--batch-size", "16", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    runs = json.loads(result.stdout)["runs"]
    assert set(runs) == {"1", "2"} and runs["1"]["scaling_efficiency"] == 1.0
    assert 0 < runs["2"]["scaling_efficiency"] < 2 and runs["2"]["total_sequences_per_s"] > 0


def test_predict_benchmark(sample_spm):
    result = run_script("benchmark.py", "predict", "--input", str(SAMPLE / "dish_val.csv"), "--reviews", "2",
                        "--tokenizer", str(sample_spm), "--hidden-size", "32",
                        "--num-layers", "2", "--num-heads", "2", "--intermediate-size", "64", "--embedding-size", "16",
                        "--latency-reviews", "2", "--backends", "torch", "onnx-int8", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["reviews"] == 2 and report["reviews_per_s_batch32"] > 0
    assert 0 < report["latency_ms_p50_batch1"] <= report["latency_ms_p95_batch1"]
    assert set(report["backends"]) == {"torch", "onnx-int8"} and report["cpu_capability"] == cpu_bf16.cpu_capability()
    int8 = report["backends"]["onnx-int8"]
    assert int8["reviews_per_s_batch32"] > 0 and int8["throughput_vs_torch"] > 0
    assert int8["export"]["precision"] == "int8" and int8["export"]["check"]["reviews"] > 0


def test_finetune_benchmark_times_both_loops_on_the_same_windows(sample_spm):
    result = run_script("benchmark.py", "finetune", "--train", str(SAMPLE / "dish_train.csv"),
                        "--dev", str(SAMPLE / "dish_val.csv"), "--tokenizer", str(sample_spm),
                        "--embedding-size", "16", "--hidden-size", "32",
                        "--num-layers", "2", "--num-heads", "2", "--intermediate-size", "64", "--warmup-steps", "1",
                        "--batch1-windows", "4", "--dev-windows", "16", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    for key in ("seconds_per_epoch", "sequences_per_s", "reference_seconds_per_epoch", "reference_sequences_per_s",
                "speedup", "reference_batch1_sequences_per_s", "speedup_vs_batch1", "dev_loss", "reference_dev_loss"):
        assert report[key] > 0, key
    assert report["windows"] > report["batch_size"] and report["dev_windows"] == 16
    assert report["mean_batch_width"] <= report["reference_batch_width"] == report["max_seq_length"] == 64
    assert 0 <= report["dev_f1"] <= 1 and 0 <= report["reference_dev_f1"] <= 1


def test_finetune_benchmark_needs_more_batches_than_warmup(sample_spm, tmp_path):
    result = run_script("benchmark.py", "finetune", "--train", str(seed_train_csv(tmp_path)),
                        "--dev", str(SAMPLE / "dish_val.csv"), "--tokenizer", str(sample_spm), "--json")
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].startswith("error: --train")


def test_datagen_benchmark_small_corpus_has_no_google_reference(sample_spm):
    result = run_script("benchmark.py", "datagen", "--input", str(SAMPLE / "reviews.txt"),
                        "--vocab", str(sample_spm), "--workers", "1",
                        "--dupe_factor", "1", "--max_seq_length", "64", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["workers"] == 1 and report["dupe_factor"] == 1 and report["instances"] > 0
    for key in ("instances_per_s", "instances_per_s_per_worker", "input_mb_per_s", "seconds", "input_mb", "output_mb"):
        assert report[key] > 0, key
    assert 20 < report["peak_tree_pss_mb"] <= report["peak_tree_rss_mb"] < 4000  # the process tree, sampled
    assert "speedup_vs_google" not in report  # Google's figure was recorded for another job


def test_datagen_benchmark_on_the_recorded_google_job(shared_data):
    nyt = shared_data / "nyt_dish"
    result = run_script("benchmark.py", "datagen", "--input", str(nyt / "reviews.txt"), "--vocab",
                        str(nyt / "nyt_spm.model"), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["workers"] == 2 and report["max_seq_length"] == 128 and report["dupe_factor"] == 5
    assert report["reference_seconds"] == 28.5 and "recorded" in report["reference"]
    assert report["speedup_vs_google"] == pytest.approx(28.5 / report["seconds"])
    assert abs(report["instances"] - report["reference_instances"]) < 0.05 * report["reference_instances"]


def load_benchmark_module():
    spec = importlib.util.spec_from_file_location("benchmark", REPO / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ReachedTiming(Exception):
    pass


def refuse_timing(*args):
    raise ReachedTiming


@pytest.mark.parametrize("native", [False, True])
def test_bf16_pretrain_benchmark_without_native_bf16_says_so_and_skips(monkeypatch, capsys, native):
    monkeypatch.setattr(cpu_bf16, "bf16_matmul_slowdown", lambda: 0.8 if native else 48.0)
    benchmark = load_benchmark_module()
    monkeypatch.setattr(pretrain_step, "timed_steps", refuse_timing)
    if native:  # a CPU with native bf16 goes on to time the steps
        with pytest.raises(ReachedTiming):
            benchmark.main(["pretrain", *TINY, "--precision", "bf16-mixed"])
        return
    assert benchmark.main(["pretrain", *TINY, "--precision", "bf16-mixed"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["native_bf16"] is False and report["bf16_matmul_slowdown"] == 48.0
    assert report["cpu_capability"] == cpu_bf16.cpu_capability() and "48x slower" in report["skipped"]
