#!/usr/bin/env python
"""The prepared accelerator check: pretraining speed, MFU and memory, then fine-tuning and prediction, as JSON.

A lent GPU comes for minutes, so everything it runs is decided here, tested on a CPU first (--tiny):

  python scripts/device_check.py --output runs/device-check            # a GPU: configs/pretrain_base.yaml, bf16
  python scripts/device_check.py --output runs/device-check --tiny     # any CPU: configs/pretrain_toy.yaml, fp32

Stages, each our own command line with its log under --output: a SentencePiece vocabulary and pretraining
TFRecords from --corpus (the bundled sample by default); pretraining for --steps steps, once eager and once
with ``--model.compile true``; fine-tuning the eager run's checkpoint on the bundled dish sample; predict.py
with the tagger on the device. It writes <output>/device_check.json: the device, torch's version, per
pretraining run the sequences/s, achieved TFLOP/s and MFU (medians over the second half of the steps,
lightning_modules/model_flops.py), the peak device memory, and each stage's wall time.

On a machine without network (a lent GPU): carry wheels of what its Python lacks (tfrecord, jsonargparse,
docstring_parser, typeshed_client) and run with PYTHONPATH=. from the repository root.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics

import torch

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.files import atomic_write_bytes
from datamodules.common.script_flags import ScriptArgumentParser
from lightning_modules.reporting.run_metrics import read_metrics
from lightning_modules.reporting.stage_runs import last_value, run_folder, run_stage

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
# What a run measures: the GPU check sizes and the CPU check that keeps it working in CI.
PROFILES = {
    "gpu": {"config": "configs/pretrain_base.yaml", "precision": "bf16-mixed", "accelerator": "gpu",
            "vocab_size": 2000, "steps": 300},
    "tiny": {"config": "configs/pretrain_toy.yaml", "precision": "32-true", "accelerator": "auto",
             "vocab_size": 400, "steps": 30},
}
VARIANTS = {"eager": [], "compiled": ["--model.compile", "true"]}


def second_half_median(metrics: dict, name: str, source: str) -> float:
    values = [value for _, value in metrics.get(name, [])]
    if not values:
        raise UserInputError(f"{source}: no '{name}' was logged (raise --steps above 20)")
    return statistics.median(values[len(values) // 2:])


def pretrain(args, profile: dict, variant: str, data: dict) -> dict:
    run_dir = os.path.join(args.output, f"pretrain_{variant}")
    result = run_stage(f"pretraining ({variant})", [
        "scripts/pretrain.py", "fit", "--config", profile["config"], *QUIET, *run_folder(run_dir),
        "--trainer.accelerator", profile["accelerator"], "--trainer.devices", "1",
        "--trainer.precision", profile["precision"], "--trainer.max_steps", str(args.steps),
        "--trainer.log_every_n_steps", "10", "--trainer.limit_val_batches", "0",
        "--checkpoint.every_n_train_steps", str(args.steps), "--model.warmup_steps", str(args.steps // 10),
        "--data.train_files", data["train_files"], "--data.tokenizer", data["tokenizer"],
        "--data.num_workers", "2", *VARIANTS[variant]], os.path.join(args.output, f"pretrain_{variant}.log"))
    metrics = read_metrics(run_dir)
    result.update({
        "sequences_per_s": second_half_median(metrics, "train/sequences_per_s", run_dir),
        "tflops": second_half_median(metrics, "train/tflops", run_dir),
        "mfu": second_half_median(metrics, "train/mfu", run_dir) if "train/mfu" in metrics else None,
        "peak_memory_mb": max(value for _, value in metrics["train/peak_memory_mb"]),
        "loss_last": last_value(metrics, "train/loss", run_dir),
    })
    return result


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default="runs/device-check", help="folder for logs, runs and the JSON (cleared first)")
    p.add_argument("--tiny", action="store_true", help="the CPU check: configs/pretrain_toy.yaml, fp32, 30 steps")
    p.add_argument("--corpus", default="data/sample/reviews.txt", help="pretraining text, one sentence per line")
    p.add_argument("--steps", type=int, help="pretraining steps per run (default: 300, --tiny 30)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                   help="pretraining runs to time (default: eager compiled)")
    args = p.parse_args(argv)
    profile = PROFILES["tiny" if args.tiny else "gpu"]
    args.steps = args.steps or profile["steps"]
    if not os.path.isfile(args.corpus):
        raise UserInputError(f"--corpus {args.corpus} does not exist")
    shutil.rmtree(args.output, ignore_errors=True)
    os.makedirs(args.output)
    out = lambda *parts: os.path.join(args.output, *parts)  # noqa: E731

    stages = {"vocabulary": run_stage("vocabulary", [
        "scripts/build_vocab.py", "--input", args.corpus, "--model-prefix", out("vocab", "spm"),
        "--vocab-size", str(profile["vocab_size"])], out("vocabulary.log"))}
    stages["pretraining_data"] = run_stage("pretraining data", [
        "scripts/create_pretraining_data.py", "--input_file", args.corpus,
        "--output_file", out("data", "train.tfrecord"), "--spm_model_file", out("vocab", "spm.model"),
        "--max_seq_length", "128", "--max_predictions_per_seq", "20",
        "--dupe_factor", "5", "--num_workers", "2", "--quiet"], out("pretraining_data.log"))
    data = {"train_files": out("data", "train*.tfrecord"), "tokenizer": out("vocab", "spm.model")}
    pretraining = {variant: pretrain(args, profile, variant, data) for variant in args.variants}
    encoder = out(f"pretrain_{args.variants[0]}", "checkpoints", "last.ckpt")
    tagger_dir = out("finetune")
    stages["finetuning"] = run_stage("fine-tuning", [
        "scripts/finetune.py", "fit", "--config", "configs/finetune_toy.yaml", *QUIET, *run_folder(tagger_dir),
        "--model.init_from", encoder, "--trainer.accelerator", profile["accelerator"], "--trainer.max_epochs", "2",
        "--trainer.precision", profile["precision"]], out("finetuning.log"))
    stages["finetuning"]["val_f1"] = last_value(read_metrics(tagger_dir), "val/f1", tagger_dir)
    stages["prediction"] = run_stage("prediction", [
        "scripts/predict.py", "--model", os.path.join(tagger_dir, "checkpoints", "best.ckpt"),
        "--input", "data/sample/unseen_reviews.txt", "--output", out("predictions.jsonl")], out("prediction.log"))

    report = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
        "profile": "tiny" if args.tiny else "gpu", "config": profile["config"], "precision": profile["precision"],
        "steps": args.steps, "pretraining": pretraining, "stages": stages,
    }
    text = json.dumps(report, indent=2)
    atomic_write_bytes(out("device_check.json"), (text + "\n").encode())
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
