#!/usr/bin/env python
"""Fine-tune ALBERT to tag spans (dish names, or any BIO entity types) in text.

  python scripts/finetune.py fit --config configs/finetune_dish.yaml \\
      --model.init_from runs/pretrain/checkpoints/last.ckpt --data.train_file train.csv --data.val_file val.csv
  python scripts/finetune.py test --config configs/finetune_dish.yaml --data.test_file test.csv --ckpt_path best
  python scripts/finetune.py fit --help                                                  # every option
"""
from datamodules.tagging.datamodule import TokenClassificationDataModule
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.cli import run_cli


def main() -> None:
    run_cli(AlbertTokenClassifierModule, TokenClassificationDataModule, best_monitor="val/f1", best_mode="max",
            links=[("model.init_from", "data.tokenizer_checkpoint", "parse"),
                   ("data.label_names", "model.label_names", "instantiate"),
                   ("data.label_scheme", "model.label_scheme", "instantiate")])


if __name__ == "__main__":
    main()
