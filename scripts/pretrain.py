#!/usr/bin/env python
"""Pretrain ALBERT (masked LM + sentence order) on Google-format TFRecords.

  python scripts/pretrain.py fit --config configs/pretrain_small.yaml --data.train_files 'runs/data/train*.tfrecord'
  python scripts/pretrain.py fit --config configs/pretrain_small.yaml --ckpt_path last   # resume
  python scripts/pretrain.py fit --help                                                 # every option
"""
from datamodules.pretraining.datamodule import PretrainingDataModule
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.cli import run_cli


def main() -> None:
    run_cli(AlbertPretrainModule, PretrainingDataModule)


if __name__ == "__main__":
    main()
