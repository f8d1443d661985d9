"""finetune: one epoch of finetune.py's TokenClassificationDataModule + AlbertTokenClassifierModule under a
Lightning Trainer (batches padded to their longest window) against the seed tutorial's loop
(transformers' AlbertForTokenClassification, every window padded to --max-seq-length, loss on all
positions, AdamW) on the same windows and labels from the same initial weights, one reference step
after each of ours so that machine load hits both alike; plus the seed's own batch size 1 on a subset.
"""
from __future__ import annotations

import argparse
import copy
import math
import statistics
import time

import torch

from datamodules.common.errors import UserInputError
from lightning_modules.benchmarks.common import add_model_size_arguments, timed_steps

SUMMARY = "one fine-tuning epoch: finetune.py's modules vs the seed's padded loop"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="review,dish_name CSV or BIO file")
    parser.add_argument("--dev", required=True, help="CSV or BIO file; its first --dev-windows windows are scored")
    parser.add_argument("--tokenizer", required=True, help="SentencePiece .model or vocab.txt")
    add_model_size_arguments(parser)
    for name, default in [("batch-size", 32), ("warmup-steps", 3), ("batch1-windows", 64), ("dev-windows", 256)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--max-seq-length", type=int, default=64,
                        help="our longest window; the seed pads every window to it (default: the seed's 64)")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")


def seed_style_batches(windows, batch_size: int, pad_to: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """The seed tutorial's inputs: every window padded to ``pad_to`` tokens, a label on every position
    (padding, [CLS], [SEP] and whitespace pieces are "O", so its loss runs over all of them)."""
    from datamodules.tagging.datamodule import IGNORE_INDEX, collate_windows

    order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed)).tolist()
    batches = []
    for first in range(0, len(order), batch_size):
        batch = collate_windows([windows[i] for i in order[first:first + batch_size]])
        padding = (0, pad_to - batch["input_ids"].shape[1])  # collate_windows pads to the longest window only
        labels = batch["labels"].masked_fill(batch["labels"] == IGNORE_INDEX, 0)  # 0 is "O"
        batches.append({"input_ids": torch.nn.functional.pad(batch["input_ids"], padding),
                        "attention_mask": torch.nn.functional.pad(batch["attention_mask"], padding),
                        "labels": torch.nn.functional.pad(labels, padding)})
    return batches


def seed_style_step(model, learning_rate: float):
    """One step of the seed's plain loop: transformers' loss on all positions, AdamW, clipping as in our config."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()

    def step(batch) -> float:
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def interleaved_clock(reference_step, reference_batches):
    """A callback timing each of our batches (its loading, step and Lightning's bookkeeping, from the end of
    the previous one) and running one step of the seed's loop after it, so load on this shared machine hits
    both alike. Built here so that Lightning is imported only when this benchmark runs."""
    import lightning.pytorch as pl

    class InterleavedClock(pl.Callback):
        def __init__(self):
            self.times, self.losses, self.widths, self.ref_times, self.ref_losses = [], [], [], [], []

        def on_train_epoch_start(self, trainer, module):
            self.last = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.times.append(time.perf_counter() - self.last)
            self.losses.append(float(outputs["loss"]))
            self.widths.append(batch["input_ids"].shape[1])
            start = time.perf_counter()
            self.ref_losses.append(reference_step(reference_batches[batch_idx]))
            self.last = time.perf_counter()
            self.ref_times.append(self.last - start)

    return InterleavedClock()


@torch.no_grad()
def dev_scores(model, windows, texts, label_names: list[str], batch_size: int) -> dict[str, float]:
    """Loss on labelled tokens and entity F1 of an AlbertForTokenClassification on some dev windows
    (F1 on the ``texts`` those windows cover whole, as in finetune.py's validation)."""
    from datamodules.tagging.datamodule import IGNORE_INDEX, collate_windows
    from lightning_modules.span_metrics import SpanF1

    model.eval()
    spans, total, count = SpanF1(label_names), 0.0, 0
    for first in range(0, len(windows), batch_size):
        batch = collate_windows([windows[i] for i in range(first, min(first + batch_size, len(windows)))])
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labelled = batch["labels"] != IGNORE_INDEX
        total += float(torch.nn.functional.cross_entropy(logits[labelled], batch["labels"][labelled], reduction="sum"))
        count += int(labelled.sum())
        spans.update(logits.softmax(-1), batch["attention_mask"], batch["text_index"], batch["window_start"])
    return {"loss": total / count, "f1": float(spans.compute(texts)["f1"])}


def run(args) -> dict:
    import lightning.pytorch as pl
    from transformers import AlbertForTokenClassification

    from datamodules.tagging.datamodule import TokenClassificationDataModule
    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

    data = TokenClassificationDataModule(train_file=args.train, val_file=args.dev, tokenizer=args.tokenizer,
                                         max_seq_length=args.max_seq_length, batch_size=args.batch_size)
    data.setup("fit")
    train = data.datasets["train"]
    if math.ceil(len(train) / args.batch_size) <= args.warmup_steps or args.batch1_windows <= args.warmup_steps:
        raise UserInputError(f"--train {args.train} gives {len(train)} windows: need more than --warmup-steps "
                             f"{args.warmup_steps} batches of --batch-size {args.batch_size}, and --batch1-windows too")
    fields = dict(vocab_size=data.tokenizer.vocab_size, embedding_size=args.embedding_size,
                  hidden_size=args.hidden_size, num_hidden_layers=args.num_layers, num_attention_heads=args.num_heads,
                  intermediate_size=args.intermediate_size, max_position_embeddings=512, hidden_act="gelu_new")
    pl.seed_everything(0, verbose=False)
    ours = AlbertTokenClassifierModule(label_names=data.label_names, albert_config=fields,
                                       learning_rate=args.learning_rate)
    initial = copy.deepcopy(ours.model.state_dict())  # both sides start from the same weights

    def seed_model():
        model = AlbertForTokenClassification(ours.config)
        model.load_state_dict(initial)
        return model

    # The seed's approach on the same windows and labels, padded before timing; same batch count as ours.
    reference = seed_model()
    clock = interleaved_clock(seed_style_step(reference, args.learning_rate),
                              seed_style_batches(train, args.batch_size, args.max_seq_length))
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, gradient_clip_val=1.0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0, callbacks=[clock])
    trainer.fit(ours, datamodule=data)
    subset = [train[i] for i in range(min(args.batch1_windows, len(train)))]
    [(batch1_times, _)] = timed_steps([(seed_style_step(seed_model(), args.learning_rate),
                                        seed_style_batches(subset, 1, args.max_seq_length))], args.warmup_steps)

    batches = len(clock.times)
    # Both epochs without their warm-up steps, scaled back to the whole epoch.
    seconds = statistics.mean(clock.times[args.warmup_steps:]) * batches
    ref_seconds = statistics.mean(clock.ref_times[args.warmup_steps:]) * batches
    batch1_per_s = 1 / statistics.mean(batch1_times)
    dev = [data.datasets["val"][i] for i in range(min(args.dev_windows, len(data.datasets["val"])))]
    ours_dev, ref_dev = (dev_scores(m, dev, data.datasets["val"].encoded, data.label_names, args.batch_size)
                         for m in (ours.model, reference))
    tail = max(1, batches // 10)
    return {
        "benchmark": "finetune", "train": args.train, "threads": torch.get_num_threads(),
        "windows": len(train), "batch_size": args.batch_size, "max_seq_length": args.max_seq_length,
        "seconds_per_epoch": seconds, "sequences_per_s": len(train) / seconds,
        "mean_batch_width": statistics.mean(clock.widths),
        "reference_seconds_per_epoch": ref_seconds, "reference_sequences_per_s": len(train) / ref_seconds,
        "reference_batch_width": args.max_seq_length, "speedup": ref_seconds / seconds,
        "reference_batch1_sequences_per_s": batch1_per_s, "reference_batch1_windows": len(subset),
        "speedup_vs_batch1": len(train) / seconds / batch1_per_s,
        # The reference's train loss also counts padding as "O", so compare the dev figures.
        "train_loss_last_tenth": statistics.mean(clock.losses[-tail:]),
        "reference_train_loss_last_tenth": statistics.mean(clock.ref_losses[-tail:]),
        "dev_windows": len(dev), "dev_loss": ours_dev["loss"], "dev_f1": ours_dev["f1"],
        "reference_dev_loss": ref_dev["loss"], "reference_dev_f1": ref_dev["f1"],
    }
