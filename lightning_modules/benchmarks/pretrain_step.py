"""pretrain: our AlbertPretrainModule (gathered MLM head, LAMB, batches trimmed to their longest real
sequence; with --data, batches as PretrainingDataModule forms them, length-bucketed) against
transformers' AlbertForPreTraining as people use it (logits on every position, AdamW, fp32, batches
padded to --seq-len, the config read by transformers as published), both with gradient clipping at
1.0, on identical records prepared before timing, one step of each in turn. Warm-up steps are not
timed; throughput is from the mean step time. Utilization is against a matmul peak measured in the
run's own dtype. bf16-mixed on a CPU without native bf16 (measured: a bf16 matmul several times
slower than fp32, e.g. AVX2-only CPUs) is reported as skipped unless --allow-slow-bf16.
"""
from __future__ import annotations

import argparse
import json
import statistics

import torch

from datamodules.common.errors import UserInputError
from lightning_modules import cpu_bf16
from lightning_modules.benchmarks.common import add_model_size_arguments, timed_steps
from lightning_modules.model_flops import matmul_peak_gflops, pretraining_gflop
from lightning_modules.reporting.measurements import peak_rss_mb

SUMMARY = "pretraining step throughput: ours vs transformers + AdamW"


def albert_config_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {e}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vocab-size", type=int, default=3000)
    add_model_size_arguments(parser)
    for name, default in [("seq-len", 128), ("batch-size", 32), ("max-predictions", 20), ("steps", 20),
                          ("warmup-steps", 3)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--config", type=albert_config_file, help="albert_config.json (replaces dims)")
    parser.add_argument("--data", help="time on the records of this TFRecord file instead of synthetic batches")
    parser.add_argument("--precision", choices=["32", "bf16-mixed"], default="32")
    parser.add_argument("--allow-slow-bf16", action="store_true",
                        help="run bf16-mixed even on a CPU without native bf16 (default: report that and skip)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true",
                        help="our encoder through torch.compile (--model.compile true); compiling is in the warm-up")


def synthetic_batches(args, vocab_size: int, count: int) -> list[dict[str, torch.Tensor]]:
    """Full-length batches of random tokens in the TFRecord schema, the same every run."""
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        b, seq, p = args.batch_size, args.seq_len, args.max_predictions
        positions = torch.sort(torch.stack([torch.randperm(seq - 2, generator=g)[:p] + 1 for _ in range(b)]))[0]
        batches.append({
            "input_ids": torch.randint(5, vocab_size, (b, seq), generator=g),
            "input_mask": torch.ones(b, seq, dtype=torch.long),
            "segment_ids": (torch.arange(seq) >= seq // 2).long().expand(b, seq).contiguous(),
            "masked_lm_positions": positions,
            "masked_lm_ids": torch.randint(5, vocab_size, (b, p), generator=g),
            "masked_lm_weights": torch.ones(b, p),
            "next_sentence_labels": torch.randint(0, 2, (b, 1), generator=g),
        })
    return batches


def record_batches(args, count: int) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """``count`` training batches as PretrainingDataModule forms them (shuffled, length-bucketed, trimmed),
    and the same records padded to the full sequence length, as the reference takes them."""
    from datamodules.pretraining.datamodule import PretrainingDataModule, collate_pretraining

    data = PretrainingDataModule(train_files=args.data, batch_size=args.batch_size)
    data.setup("fit")
    loader = data.train_dataloader()
    if len(data.train_set) < args.batch_size:
        raise UserInputError(f"--data {args.data} holds {len(data.train_set)} records, "
                             f"fewer than --batch-size {args.batch_size}")
    ours: list[dict[str, torch.Tensor]] = []
    epoch = 0
    while len(ours) < count:
        loader.sampler.set_epoch(epoch)
        ours += [b for b in loader if len(b["input_ids"]) == args.batch_size]  # full batches only
        epoch += 1
    ours = ours[:count]
    padded = [collate_pretraining([data.train_set[int(i)] for i in b["record_index"]], trim_padding=False)
              for b in ours]
    return ours, padded


def run(args) -> dict:
    bf16 = args.precision == "bf16-mixed"
    bf16_support = {"native_bf16": cpu_bf16.native_bf16(), "bf16_matmul_slowdown": cpu_bf16.bf16_matmul_slowdown()}
    if bf16 and not bf16_support["native_bf16"] and not args.allow_slow_bf16:
        # Tens of times slower than fp32 here: minutes a step at the default sizes, and nothing to learn.
        return {"benchmark": "pretrain", "precision": args.precision, **bf16_support,
                "skipped": "this CPU has no native bf16 (bf16 matmul measured "
                           f"{bf16_support['bf16_matmul_slowdown']:.0f}x slower than fp32); "
                           "--allow-slow-bf16 runs it anyway"}
    from transformers import AlbertConfig, AlbertForPreTraining

    from datamodules.pretraining.datamodule import collate_pretraining
    from lightning_modules.albert_init import load_albert_config
    from lightning_modules.albert_pretrain import AlbertPretrainModule
    from lightning_modules.lamb import Lamb
    from lightning_modules.optimization import decay_param_groups

    fields = args.config or dict(
        vocab_size=args.vocab_size, embedding_size=args.embedding_size, hidden_size=args.hidden_size,
        num_hidden_layers=args.num_layers, num_attention_heads=args.num_heads, intermediate_size=args.intermediate_size,
        max_position_embeddings=max(512, args.seq_len), hidden_act="gelu_new", hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0)
    config = load_albert_config(fields)
    count = args.steps + args.warmup_steps
    if args.data:
        trimmed, batches = record_batches(args, count)
    else:
        batches = synthetic_batches(args, config.vocab_size, count)
        # The DataModule's collate: trim every batch to its longest real sequence.
        trimmed = [collate_pretraining([{k: v[i] for k, v in b.items()} for i in range(len(b["input_ids"]))])
                   for b in batches]

    torch.manual_seed(0)
    ours = AlbertPretrainModule(albert_config=config.to_dict(), compile=args.compile)
    optimizer = Lamb(decay_param_groups(ours.model, 0.01), lr=1e-3)

    def our_step(batch) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = ours(batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    torch.manual_seed(0)
    # The config as published, read by transformers itself (so "gelu_new" is its Python GELU; ours maps
    # it to torch's fused kernel for the same function).
    reference = AlbertForPreTraining(AlbertConfig(**fields))
    ref_optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-3)

    def reference_step(batch) -> torch.Tensor:
        labels = torch.full_like(batch["input_ids"], -100)
        labels.scatter_(1, batch["masked_lm_positions"],
                        torch.where(batch["masked_lm_weights"] > 0, batch["masked_lm_ids"], -100))
        labels[:, 0] = -100  # padded prediction slots point at position 0
        out = reference(input_ids=batch["input_ids"], attention_mask=batch["input_mask"],
                        token_type_ids=batch["segment_ids"], labels=labels,
                        sentence_order_label=batch["next_sentence_labels"].view(-1))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        ref_optimizer.step()
        ref_optimizer.zero_grad(set_to_none=True)
        return out.loss.detach()

    (ref_times, ref_losses), (our_times, our_losses) = timed_steps(
        [(reference_step, batches), (our_step, trimmed)], args.warmup_steps)
    # Per step, from the totals: with --data our batches differ in length, so a median step would mislead.
    our_step_s, ref_step_s = statistics.mean(our_times), statistics.mean(ref_times)
    timed = batches[args.warmup_steps:]
    real_tokens = statistics.mean(float(b["input_mask"].sum()) for b in timed)
    masked = statistics.mean(float(b["masked_lm_weights"].sum()) / args.batch_size for b in timed)
    # FLOPs of the shapes our step computes (batches trimmed to their longest real sequence).
    computed_len = round(statistics.mean(b["input_ids"].shape[1] for b in trimmed[args.warmup_steps:]))
    gflop = pretraining_gflop(config, args.batch_size, computed_len, round(masked))
    # Only the peak of the dtype this run computes in; against the fallback's "peak" a ratio means nothing.
    peak_dtype = "bf16" if bf16 else "fp32"
    peak = matmul_peak_gflops(torch.bfloat16 if bf16 else torch.float32)
    return {
        "benchmark": "pretrain", "precision": args.precision, "compile": args.compile,
        "threads": torch.get_num_threads(), **bf16_support,
        "data": args.data or "synthetic", "batch_size": args.batch_size, "seq_len": args.seq_len,
        "sequences_per_s": args.batch_size / our_step_s, "real_tokens_per_s": real_tokens / our_step_s,
        "reference_sequences_per_s": args.batch_size / ref_step_s,
        "reference_real_tokens_per_s": real_tokens / ref_step_s,
        "speedup": ref_step_s / our_step_s, "mean_batch_width": computed_len,
        "model_gflop_per_step": gflop, "achieved_gflops": gflop / our_step_s,
        "matmul_peak_gflops": {peak_dtype: peak},
        "utilization": gflop / our_step_s / peak if bf16_support["native_bf16"] or not bf16 else None,
        "peak_rss_mb": peak_rss_mb(),
        "loss_first": float(our_losses[0]), "loss_last": float(our_losses[-1]),
        "reference_loss_first": float(ref_losses[0]), "reference_loss_last": float(ref_losses[-1]),
    }
