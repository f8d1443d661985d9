#!/usr/bin/env python
"""ALBERT vs BERT on your data: pretrain and fine-tune both with the same budget, then measure them.

  python scripts/compare.py --config configs/compare_small.yaml      # writes runs/compare/report.{md,json,png}

For each model_type (albert, bert) this runs the project's own command lines with one line
changed (``--model.model_type``): pretrain.py fit, finetune.py fit from that checkpoint and from
random weights ("no pretraining"), finetune.py test on the test file; then it times predict.py's
code path on the test reviews: both taggers in one fresh process, taking turns review by review
(fair under changing machine load), and each alone in a fresh process for its peak memory. Every
stage's log is kept under ``<output_dir>/<model_type>/``, and its numbers are read back from the
``metrics/metrics.csv`` Lightning's CSVLogger writes beside the run's TensorBoard logs. The config
(YAML) names the stage configs and the arguments both sides share:

  task: NYT dish names                       # a label for the report
  output_dir: runs/compare
  tokenizer: ../shared/data/nyt_dish/nyt_spm.model
  pretrain: {config: configs/pretrain_small.yaml, args: {data.train_files: ..., trainer.max_steps: 400}}
                                             # (or a wall-time budget: trainer.max_time: "00:00:10:00")
  finetune: {config: configs/finetune_dish.yaml, test_file: test.csv, args: {data.train_file: ..., ...}}
  inference: {latency_reviews: 200, batch_size: 32}
"""
import argparse
import datetime
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys

import torch
import yaml

from datamodules.common.checkpoints import load_checkpoint_file
from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.script_flags import ScriptArgumentParser
from datamodules.tagging.span_labels import read_examples
from lightning_modules.backbones import BACKBONES
from lightning_modules.inference.hf_export import export_checkpoint
from lightning_modules.quiet_output import quiet_library_output
from lightning_modules.reporting.comparison_report import MODELS, write_report
from lightning_modules.reporting.measurements import (
    inference_peak_rss_mb,
    inference_profiles,
    parameter_counts,
)
from lightning_modules.reporting.run_metrics import read_metrics
from lightning_modules.reporting.stage_runs import cli_args, last_value, run_folder, run_stage

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def load_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise UserInputError(f"--config {path} does not exist")
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    for key in ("task", "output_dir", "tokenizer", "pretrain", "finetune"):
        if key not in config:
            raise UserInputError(f"{path}: missing the key '{key}' (see scripts/compare.py --help)")
    for stage in ("pretrain", "finetune"):
        if not isinstance(config[stage], dict) or not os.path.isfile(config[stage].get("config", "")):
            raise UserInputError(f"{path}: {stage}.config must name an existing LightningCLI YAML, "
                                 f"got {config[stage].get('config') if isinstance(config[stage], dict) else None}")
        if not isinstance(config[stage].get("args") or {}, dict):
            raise UserInputError(f"{path}: {stage}.args must be a mapping of option to value, e.g. "
                                 f"{{trainer.max_steps: 400}}")
    if not os.path.isfile(config["finetune"].get("test_file", "")):
        raise UserInputError(f"{path}: finetune.test_file must name an existing CSV/BIO file")
    if not os.path.isfile(config["tokenizer"]):
        raise UserInputError(f"{path}: tokenizer {config['tokenizer']} does not exist")
    return config


def pretrain(config: dict, model_type: str, root: str) -> tuple[dict, str]:
    stage = config["pretrain"]
    run_dir = os.path.join(root, "pretrain")
    result = run_stage(f"{model_type}: pretraining", [
        "scripts/pretrain.py", "fit", "--config", stage["config"], *cli_args(stage.get("args")),
        "--data.tokenizer", config["tokenizer"], "--model.model_type", model_type,
        *run_folder(run_dir), *QUIET], os.path.join(root, "pretrain.log"))
    metrics = read_metrics(run_dir)
    speeds = [value for _, value in metrics.get("train/sequences_per_s", [])]
    if not speeds:
        raise UserInputError(f"{run_dir}: no train/sequences_per_s logged (raise trainer.max_steps above "
                             f"trainer.log_every_n_steps)")
    losses = [value for _, value in metrics["train/loss"]]
    result.update(sequences_per_s=statistics.median(speeds), loss_last=statistics.mean(losses[-5:]))
    return result, os.path.join(run_dir, "checkpoints", "last.ckpt")


def finetune_and_test(config: dict, model_type: str, root: str, init: str, pretrained: str) -> dict:
    stage = config["finetune"]
    run_dir = os.path.join(root, f"finetune_{init}")
    if init == "pretrained":
        model = ["--model.init_from", pretrained]
    else:  # the same architecture, random weights, the same tokenizer
        model = ["--model.init_from", "null", "--model.model_type", model_type,
                 "--model.albert_config", os.path.join(root, "model_config.json"),
                 "--data.tokenizer", config["tokenizer"]]
    common = ["--config", stage["config"], *cli_args(stage.get("args")), *model, *QUIET]
    result = run_stage(f"{model_type}: fine-tuning ({init})", [
        "scripts/finetune.py", "fit", *common, *run_folder(run_dir)],
        os.path.join(root, f"finetune_{init}.log"))
    best = os.path.join(run_dir, "checkpoints", "best.ckpt")
    test_dir = os.path.join(root, f"test_{init}")
    run_stage(f"{model_type}: test ({init})", [
        "scripts/finetune.py", "test", *common, "--data.test_file", stage["test_file"], "--ckpt_path", best,
        *run_folder(test_dir)], os.path.join(root, f"test_{init}.log"))
    metrics = read_metrics(test_dir)
    result["test"] = {k: last_value(metrics, f"test/{k}", test_dir) for k in ("f1", "precision", "recall")}
    result["checkpoint"] = best
    return result


def compare_model(config: dict, model_type: str, texts: list[str]) -> dict:
    root = os.path.join(config["output_dir"], model_type)
    shutil.rmtree(root, ignore_errors=True)  # a rerun starts clean: nothing stale is read back
    os.makedirs(root)
    pretrain_result, pretrained = pretrain(config, model_type, root)
    model_config = load_checkpoint_file(pretrained)["hyper_parameters"]["albert_config"]
    with open(os.path.join(root, "model_config.json"), "w", encoding="utf-8") as f:
        json.dump(model_config, f, indent=2)
    finetune = {init: finetune_and_test(config, model_type, root, init, pretrained) for init in ("pretrained", "none")}
    tagger = finetune["pretrained"]["checkpoint"]
    export_dir = os.path.join(root, "hf_tagger")
    export_checkpoint(tagger, export_dir)
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # a fresh process: its peak memory is the model's
        inference_rss = pool.apply(inference_peak_rss_mb, (tagger, texts, batch_size(config)))
    return {
        "parameters": parameter_counts(load_checkpoint_file(tagger)["state_dict"],
                                       f"model.{BACKBONES[model_type].prefix}."),
        "disk_mb": {"safetensors": os.path.getsize(os.path.join(export_dir, "model.safetensors")) / 2 ** 20,
                    "checkpoint": os.path.getsize(tagger) / 2 ** 20},
        "pretrain": pretrain_result, "finetune": finetune, "inference": {"peak_rss_mb": inference_rss},
        "model_config": model_config,
    }


def batch_size(config: dict) -> int:
    return (config.get("inference") or {}).get("batch_size", 32)


def time_inference(config: dict, models: dict, texts: list[str]) -> None:
    """Both taggers timed in one fresh process, taking turns (fair under changing load); adds to models."""
    print("== inference timing (models take turns)", flush=True)
    checkpoints = {m: models[m]["finetune"]["pretrained"]["checkpoint"] for m in models}
    latency_reviews = (config.get("inference") or {}).get("latency_reviews", 200)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        timings = pool.apply(inference_profiles, (checkpoints, texts, latency_reviews, batch_size(config)))
    for m, timing in timings.items():
        models[m]["inference"].update(timing)


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="comparison YAML (see configs/compare_small.yaml)")
    p.add_argument("--output-dir", help="where runs and the report go (default: the config's output_dir)")
    args = p.parse_args(argv)
    quiet_library_output()
    config = load_config(args.config)
    config["output_dir"] = args.output_dir or config["output_dir"]
    texts = list(dict.fromkeys(e.text for e in read_examples(config["finetune"]["test_file"])))
    models = {m: compare_model(config, m, texts) for m in MODELS}
    time_inference(config, models, texts)
    sizes = models["albert"]["model_config"]
    results = {
        "task": config["task"], "config": args.config, "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU cores, "
                   f"{'GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}, "
                   f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)",
        "hidden_size": sizes["hidden_size"], "num_layers": sizes["num_hidden_layers"],
        "batch_size": batch_size(config), "models": models,
    }
    for path in write_report(results, config["output_dir"]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
