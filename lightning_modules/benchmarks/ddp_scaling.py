"""ddp: scripts/pretrain.py itself on 1..N CPU processes (gloo), each with cpu_count/max(N) threads:
per-rank and total sequences/s and the scaling efficiency (total / (N x one process)).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from datamodules.common.errors import UserInputError
from lightning_modules.reporting.run_metrics import metrics_logger_args, read_metrics

SUMMARY = "scripts/pretrain.py throughput with 1..N CPU processes (DDP): scaling"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="TFRecord file to train on")
    parser.add_argument("--vocab-size", type=int, default=1600)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--config-yaml", default="configs/pretrain_toy.yaml")


def per_rank_sequences_per_s(args, devices: int, threads: int) -> float:
    """Median train/sequences_per_s after the warm-up steps of one pretrain.py run on ``devices`` processes."""
    with tempfile.TemporaryDirectory() as root:
        command = [sys.executable, os.path.join(REPO, "scripts", "pretrain.py"), "fit", "--config", args.config_yaml,
                   "--data.train_files", args.data, "--model.vocab_size", str(args.vocab_size),
                   "--data.batch_size", str(args.batch_size), "--trainer.max_steps", str(args.steps),
                   "--trainer.accelerator", "cpu", "--trainer.devices", str(devices), "--trainer.strategy",
                   "ddp" if devices > 1 else "auto", "--trainer.limit_val_batches", "0",
                   "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
                   "--trainer.default_root_dir", root, *metrics_logger_args(root)]
        # Every process gets the same threads (cpu_count / largest N), so efficiency measures DDP itself.
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            last = [line for line in result.stderr.splitlines() if line.strip()][-1:] or ["(no output)"]
            raise UserInputError(f"pretrain.py with {devices} devices failed: {last[0].removeprefix('error: ')}")
        # Rank 0 logs; its step times stand for every rank's (DDP steps in lockstep).
        speeds = read_metrics(root).get("train/sequences_per_s", [])[args.warmup_steps:]
        if not speeds:
            raise UserInputError(f"pretrain.py logged no train/sequences_per_s after --warmup-steps "
                                 f"{args.warmup_steps}: raise --steps above it")
        return statistics.median(value for _, value in speeds)


def run(args) -> dict:
    runs = {}
    threads = max(1, (os.cpu_count() or 1) // max(args.devices))
    for devices in args.devices:
        per_rank = per_rank_sequences_per_s(args, devices, threads)
        runs[devices] = {"per_rank_sequences_per_s": per_rank, "total_sequences_per_s": per_rank * devices}
    base = runs[min(runs)]["total_sequences_per_s"] / min(runs)
    for devices, result in runs.items():
        result["scaling_efficiency"] = result["total_sequences_per_s"] / (base * devices)
    return {"benchmark": "ddp", "data": args.data, "batch_size_per_rank": args.batch_size, "cpu_count": os.cpu_count(),
            "threads_per_process": threads, "runs": {str(k): v for k, v in runs.items()}}
