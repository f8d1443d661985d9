#!/usr/bin/env python
"""Benchmarks: the project's own code paths beside a reference, in one process, JSON lines out.

  python scripts/benchmark.py pretrain                          # synthetic full-length batches, fp32
  python scripts/benchmark.py pretrain --precision bf16-mixed
  python scripts/benchmark.py pretrain --data ../shared/data/google_tfrecord/reviews_train.tfrecord
  python scripts/benchmark.py ddp --data ../shared/data/google_tfrecord/reviews_train.tfrecord --devices 1 2
  python scripts/benchmark.py predict --input ../shared/data/nyt_dish/test.csv --tokenizer ../shared/data/nyt_dish/nyt_spm.model

pretrain: our AlbertPretrainModule (gathered MLM head, LAMB, batches trimmed to their longest real
sequence) against transformers' AlbertForPreTraining as people use it (logits on every position,
AdamW, fp32, batches padded to --seq-len), both with gradient clipping at 1.0, on identical batches
prepared before timing. Warm-up steps are not timed; throughput is from the median step time.

predict: the code path of predict.py (windows, batched forward, merge, decode) on real reviews.

ddp: scripts/pretrain.py itself on 1..N CPU processes (gloo), each with cpu_count/max(N) threads:
per-rank and total sequences/s and the scaling efficiency (total / (N x one process)).
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch


def matmul_peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times) / 1e9


def model_gflop_per_step(config, batch_size: int, seq_len: int, masked: int) -> float:
    """Analytic matmul FLOPs of one training step (forward x 3), as ALBERT computes on real tokens."""
    h, e, i, layers, v = (config.hidden_size, config.embedding_size, config.intermediate_size,
                          config.num_hidden_layers, config.vocab_size)
    tokens = batch_size * seq_len
    per_layer = tokens * (4 * h * h + 2 * h * i) * 2 + 2 * 2 * batch_size * seq_len * seq_len * h
    forward = tokens * e * h * 2 + layers * per_layer + batch_size * masked * (h * e + e * v) * 2
    return 3 * forward / 1e9


def synthetic_batches(args, vocab_size: int, count: int) -> list[dict[str, torch.Tensor]]:
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


def record_batches(args, count: int) -> list[dict[str, torch.Tensor]]:
    from datamodules.pretraining_datamodule import PretrainingRecords, collate_pretraining

    records = PretrainingRecords([args.data])
    n = count * args.batch_size
    items = [records[i % len(records)] for i in range(n)]
    return [collate_pretraining(items[k:k + args.batch_size], trim_padding=False) for k in range(0, n, args.batch_size)]


def timed_steps(step, batches, warmup: int) -> tuple[list[float], list[float]]:
    times, losses = [], []
    for k, batch in enumerate(batches):
        start = time.perf_counter()
        loss = step(batch)
        elapsed = time.perf_counter() - start
        losses.append(loss)
        if k >= warmup:
            times.append(elapsed)
    return times, losses


def bench_pretrain(args) -> dict:
    from transformers import AlbertForPreTraining

    from datamodules.pretraining_datamodule import collate_pretraining
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
    batches = record_batches(args, count) if args.data else synthetic_batches(args, config.vocab_size, count)
    bf16 = args.precision == "bf16-mixed"

    torch.manual_seed(0)
    ours = AlbertPretrainModule(albert_config=config.to_dict())
    optimizer = Lamb(decay_param_groups(ours.model, 0.01), lr=1e-3)
    # The DataModule's collate: trim every batch to its longest real sequence.
    trimmed = [collate_pretraining([{k: v[i] for k, v in b.items()} for i in range(len(b["input_ids"]))])
               for b in batches]

    def our_step(batch) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = ours(batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    torch.manual_seed(0)
    reference = AlbertForPreTraining(config)
    ref_optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-3)

    def reference_step(batch) -> float:
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

    ref_times, ref_losses = timed_steps(reference_step, batches, args.warmup_steps)
    our_times, our_losses = timed_steps(our_step, trimmed, args.warmup_steps)
    our_median, ref_median = statistics.median(our_times), statistics.median(ref_times)
    real_tokens = statistics.mean(float(b["input_mask"].sum()) for b in batches)
    masked = statistics.mean(float(b["masked_lm_weights"].sum()) / args.batch_size for b in batches)
    # FLOPs of the shapes our step computes (batches trimmed to their longest real sequence).
    computed_len = round(statistics.mean(b["input_ids"].shape[1] for b in trimmed))
    gflop = model_gflop_per_step(config, args.batch_size, computed_len, round(masked))
    peaks = {"fp32": matmul_peak_gflops(torch.float32), "bf16": matmul_peak_gflops(torch.bfloat16)}
    peak = peaks["bf16" if bf16 else "fp32"]
    return {
        "benchmark": "pretrain", "precision": args.precision, "threads": torch.get_num_threads(),
        "data": args.data or "synthetic", "batch_size": args.batch_size, "seq_len": args.seq_len,
        "sequences_per_s": args.batch_size / our_median, "real_tokens_per_s": real_tokens / our_median,
        "reference_sequences_per_s": args.batch_size / ref_median,
        "reference_real_tokens_per_s": real_tokens / ref_median,
        "speedup": ref_median / our_median,
        "model_gflop_per_step": gflop, "achieved_gflops": gflop / our_median,
        "matmul_peak_gflops": peaks, "utilization": gflop / our_median / peak,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loss_first": float(our_losses[0]), "loss_last": float(our_losses[-1]),
        "reference_loss_first": float(ref_losses[0]), "reference_loss_last": float(ref_losses[-1]),
    }


def bench_ddp(args) -> dict:
    """Per-rank and total pretraining throughput of scripts/pretrain.py with 1..N CPU processes (DDP, gloo)."""
    import os
    import subprocess
    import tempfile

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = {}
    threads = max(1, (os.cpu_count() or 1) // max(args.devices))
    for devices in args.devices:
        with tempfile.TemporaryDirectory() as root:
            command = [sys.executable, os.path.join(repo, "scripts", "pretrain.py"), "fit", "--config", args.config_yaml,
                       "--data.train_files", args.data, "--model.vocab_size", str(args.vocab_size),
                       "--data.batch_size", str(args.batch_size), "--trainer.max_steps", str(args.steps),
                       "--trainer.accelerator", "cpu", "--trainer.devices", str(devices), "--trainer.strategy",
                       "ddp" if devices > 1 else "auto", "--trainer.limit_val_batches", "0",
                       "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
                       "--trainer.default_root_dir", root]
            # Every process gets the same threads (cpu_count / largest N), so efficiency measures DDP itself.
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"pretrain.py with {devices} devices failed:\n{result.stderr[-2000:]}")
            values = []
            for events in sorted(__import__("glob").glob(os.path.join(root, "lightning_logs", "*", "events.*"))):
                acc = EventAccumulator(events, size_guidance={"scalars": 0})
                acc.Reload()
                values += [e.value for e in acc.Scalars("train/sequences_per_s")][args.warmup_steps:]
            per_rank = statistics.median(values)
            runs[devices] = {"per_rank_sequences_per_s": per_rank, "total_sequences_per_s": per_rank * devices}
    base = runs[min(runs)]["total_sequences_per_s"] / min(runs)
    for devices, run in runs.items():
        run["scaling_efficiency"] = run["total_sequences_per_s"] / (base * devices)
    return {"benchmark": "ddp", "data": args.data, "batch_size_per_rank": args.batch_size, "cpu_count": os.cpu_count(),
            "threads_per_process": threads, "runs": {str(k): v for k, v in runs.items()}}


def bench_predict(args) -> dict:
    """predict.py's code path (SpanPredictor): reviews/s at batch 32, latency p50/p95 at batch 1."""
    import os
    import tempfile

    from datamodules.span_labels import read_examples
    from datamodules.tokenization import tokenizer_state
    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
    from lightning_modules.span_predictor import SpanPredictor

    texts = [e.text for e in read_examples(args.input)][:args.reviews]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:  # an untrained tagger of the given size: speed does not depend on the weights
            state = tokenizer_state(args.tokenizer, True)
            fields = dict(vocab_size=state["vocab_size"], embedding_size=args.embedding_size,
                          hidden_size=args.hidden_size, num_hidden_layers=args.num_layers,
                          num_attention_heads=args.num_heads, intermediate_size=args.intermediate_size,
                          max_position_embeddings=512, hidden_act="gelu_new")
            labels = ["O", "B-Dish", "I-Dish"]
            module = AlbertTokenClassifierModule(label_names=labels, albert_config=fields)
            model_path = os.path.join(tmp, "tagger.ckpt")
            torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                        "TokenClassificationDataModule": {"tokenizer": state, "label_names": labels,
                                                          "max_seq_length": 128, "window_overlap": 32}}, model_path)
        predictor = SpanPredictor(model_path, "cpu")
    predictor.predict(texts[:64], batch_size=32)  # warm-up
    start = time.perf_counter()
    predictor.predict(texts, batch_size=32)
    batched = time.perf_counter() - start
    latencies = []
    for text in texts[:args.latency_reviews]:
        start = time.perf_counter()
        predictor.predict([text], batch_size=1)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return {"benchmark": "predict", "input": args.input, "reviews": len(texts), "threads": torch.get_num_threads(),
            "reviews_per_s_batch32": len(texts) / batched, "latency_ms_p50_batch1": statistics.median(latencies),
            "latency_ms_p95_batch1": latencies[math.ceil(0.95 * len(latencies)) - 1],  # nearest rank
            "mean_review_chars": statistics.mean(len(t) for t in texts)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pre = sub.add_parser("pretrain", help="pretraining step throughput: ours vs transformers + AdamW")
    for name, default in [("vocab-size", 3000), ("embedding-size", 128), ("hidden-size", 256), ("num-layers", 4),
                          ("num-heads", 4), ("intermediate-size", 1024), ("seq-len", 128), ("batch-size", 32),
                          ("max-predictions", 20), ("steps", 20), ("warmup-steps", 3)]:
        pre.add_argument(f"--{name}", type=int, default=default)
    pre.add_argument("--config", type=lambda path: json.load(open(path)), help="albert_config.json (replaces dims)")
    pre.add_argument("--data", help="time on the records of this TFRecord file instead of synthetic batches")
    pre.add_argument("--precision", choices=["32", "bf16-mixed"], default="32")
    pre.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    pre.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    ddp = sub.add_parser("ddp", help="scripts/pretrain.py throughput with 1..N CPU processes (DDP): scaling")
    ddp.add_argument("--data", required=True, help="TFRecord file to train on")
    ddp.add_argument("--vocab-size", type=int, default=1600)
    ddp.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    ddp.add_argument("--batch-size", type=int, default=32, help="per rank")
    ddp.add_argument("--steps", type=int, default=40)
    ddp.add_argument("--warmup-steps", type=int, default=5)
    ddp.add_argument("--config-yaml", default="configs/pretrain_toy.yaml")
    ddp.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    pred = sub.add_parser("predict", help="predict.py's path: reviews/s at batch 32, latency at batch 1")
    pred.add_argument("--input", required=True, help="reviews: a review,dish_name CSV or a BIO file")
    pred.add_argument("--model", help="fine-tuned checkpoint (default: an untrained tagger of the sizes below)")
    pred.add_argument("--tokenizer", help="SentencePiece .model or vocab.txt for the untrained tagger")
    for name, default in [("embedding-size", 128), ("hidden-size", 256), ("num-layers", 4), ("num-heads", 4),
                          ("intermediate-size", 1024), ("reviews", 1000), ("latency-reviews", 200)]:
        pred.add_argument(f"--{name}", type=int, default=default)
    pred.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    pred.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    args = p.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if args.command == "predict" and not (args.model or args.tokenizer):
        p.error("predict needs --model or --tokenizer")
    result = {"pretrain": bench_pretrain, "ddp": bench_ddp, "predict": bench_predict}[args.command](args)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
