"""The numbers a training run launched by our tools logs, written to a CSV file and read back.

scripts/compare.py and ``benchmark.py ddp`` start pretrain.py / finetune.py with ``metrics_logger_args``:
TensorBoard as by default (for people and scripts/plot_curves.py) plus Lightning's ``CSVLogger``, whose
plain ``metrics.csv`` they read back with ``read_metrics``.
"""
from __future__ import annotations

import csv
import json
import os
from collections import defaultdict

METRICS_FOLDER = "metrics"


def metrics_logger_args(run_dir: str) -> list[str]:
    """LightningCLI options that log to TensorBoard under ``run_dir`` and to ``<run_dir>/metrics/metrics.csv``."""
    loggers = [{"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": run_dir}},
               # A fixed folder, no version_N: one run per run_dir, so the reader knows where to look.
               {"class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": run_dir, "name": "", "version": METRICS_FOLDER}}]
    return ["--trainer.logger", json.dumps(loggers)]


def read_metrics(run_dir: str) -> dict[str, list[tuple[int, float]]]:
    """name -> [(step, value)] from a run started with ``metrics_logger_args(run_dir)``; empty when the run
    logged nothing (CSVLogger then writes no file)."""
    path = os.path.join(run_dir, METRICS_FOLDER, "metrics.csv")
    if not os.path.isfile(path):
        return {}
    series = defaultdict(dict)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            step = int(row.pop("step"))
            for name, value in row.items():
                if value != "":  # each row holds the metrics of one log call; the other columns are empty
                    series[name][step] = float(value)
    return {name: sorted(points.items()) for name, points in series.items()}
