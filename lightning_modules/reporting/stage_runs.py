"""Running our own command lines as stages of a larger job (scripts/compare.py, scripts/device_check.py): each
stage's output into its own log, its wall time and peak memory measured, its numbers logged where
``read_metrics`` reads them back, and a failed stage as a one-line error naming its log.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import yaml

from datamodules.common.errors import UserInputError
from lightning_modules.reporting.measurements import peak_rss_mb
from lightning_modules.reporting.run_metrics import metrics_logger_args

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli_args(args: dict | None) -> list[str]:
    """{"trainer.max_steps": 400} -> ["--trainer.max_steps", "400"] (lists and dicts as YAML flow)."""
    out = []
    for key, value in (args or {}).items():
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip() \
            if isinstance(value, (list, dict, bool)) or value is None else str(value)
        out += [f"--{key}", text]
    return out


def run_stage(name: str, command: list[str], log_path: str) -> dict:
    """Run one of our scripts, its output into ``log_path``; wall seconds and the process's peak memory."""
    print(f"== {name}", flush=True)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, *command], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        with open(log_path, encoding="utf-8") as f:
            tail = [line.rstrip() for line in f if line.strip()][-1:] or ["(no output)"]
        raise UserInputError(f"{name} failed: {tail[0]} (full log: {log_path})")
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(usage)}


def run_folder(run_dir: str) -> list[str]:
    """Options putting a stage's checkpoints and logs under ``run_dir``, its numbers where read_metrics reads them."""
    return ["--trainer.default_root_dir", run_dir, *metrics_logger_args(run_dir)]


def last_value(metrics: dict, name: str, source: str) -> float:
    if name not in metrics:
        raise UserInputError(f"{source}: no '{name}' was logged")
    return metrics[name][-1][1]
