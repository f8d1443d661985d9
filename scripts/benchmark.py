#!/usr/bin/env python
"""Benchmarks: the project's own code paths beside a reference, in one process, JSON lines out.

  python scripts/benchmark.py pretrain                          # synthetic full-length batches, fp32
  python scripts/benchmark.py pretrain --precision bf16-mixed
  python scripts/benchmark.py pretrain --data ../shared/data/google_tfrecord/reviews_train.tfrecord
  python scripts/benchmark.py ddp --data ../shared/data/google_tfrecord/reviews_train.tfrecord --devices 1 2
  python scripts/benchmark.py predict --input ../shared/data/nyt_dish/test.csv \\
      --tokenizer ../shared/data/nyt_dish/nyt_spm.model
  python scripts/benchmark.py predict --input ../shared/data/nyt_dish/test.csv --model best.ckpt \\
      --backends torch onnx onnx-int8
  python scripts/benchmark.py serve --model runs/tagger-int8 --input ../shared/data/nyt_dish/test.csv
  python scripts/benchmark.py finetune --train ../shared/data/nyt_dish/train.csv \\
      --dev ../shared/data/nyt_dish/val.csv \\
      --tokenizer ../shared/data/nyt_dish/nyt_spm.model
  python scripts/benchmark.py datagen --input ../shared/data/nyt_dish/reviews.txt \\
      --vocab ../shared/data/nyt_dish/nyt_spm.model

pretrain: our AlbertPretrainModule (gathered MLM head, LAMB, batches trimmed to their longest real
sequence; with --data, batches as PretrainingDataModule forms them, length-bucketed) against
transformers' AlbertForPreTraining as people use it (logits on every position, AdamW, fp32, batches
padded to --seq-len, the config read by transformers as published), both with gradient clipping at
1.0, on identical records prepared before timing, one step of each in turn. Warm-up steps are not
timed; throughput is from the mean step time. Utilization is against a matmul peak measured in the
run's own dtype. bf16-mixed on a CPU without native bf16 (measured: a bf16 matmul several times
slower than fp32, e.g. AVX2-only CPUs) is reported as skipped unless --allow-slow-bf16.

Every report holds "cpu_capability" (torch's name for the CPU's vector ISA: AVX2, AVX512, ...):
ratios differ between CPU kinds.

predict: the code path of predict.py (windows, batched forward, merge, decode) on real reviews, with
PyTorch and/or ONNX Runtime (fp32, int8) running the same weights (--backends torch onnx onnx-int8).

serve: scripts/serve.py started on 127.0.0.1 and driven by --clients threads (keep-alive connections,
requests back to back) for --seconds, then again with every --malformed-every-th request malformed:
reviews/s, latency p50/p95/p99, errors (an answer that does not echo its request's texts counts as one),
each malformed request's status; beside predict.py's bulk reviews/s on the same reviews; then SIGTERM.

finetune: one epoch of finetune.py's TokenClassificationDataModule + AlbertTokenClassifierModule under a
Lightning Trainer (batches padded to their longest window) against the seed tutorial's loop
(transformers' AlbertForTokenClassification, every window padded to --max-seq-length, loss on all
positions, AdamW) on the same windows and labels from the same initial weights, one reference step
after each of ours so that machine load hits both alike; plus the seed's own batch size 1 on a subset.

datagen: create_pretraining_data (datamodules/pretraining_data.py, what scripts/create_pretraining_data.py
runs) on a corpus: instances/s (in all and per worker) and the peak memory of the whole process tree
(parent and workers), summed RSS and summed PSS (shared pages shared out). For nyt_dish/reviews.txt
with seq 128 / dupe 5 it is compared with the recorded
time of google-research/ALBERT's script for that job (../shared/data/google_tfrecord/README.md: 28.5 s
wall, one process), since TensorFlow is not installed here.

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

from datamodules.corpus_pieces import DEFAULT_DOCUMENTS_PER_PIECE


def matmul_peak_gflops(dtype: torch.dtype, n: int = 512, repeats: int = 5, budget_s: float = 2.0) -> float:
    """Best n x n matmul rate in GFLOP/s, in at most ``repeats`` timings or about ``budget_s`` seconds
    (on a CPU without native bf16 one bf16 matmul of this size takes ~0.2 s)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget_s:
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


def record_batches(args, count: int) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """``count`` training batches as PretrainingDataModule forms them (shuffled, length-bucketed, trimmed),
    and the same records padded to the full sequence length, as the reference takes them."""
    from datamodules.pretraining_datamodule import PretrainingDataModule, collate_pretraining

    data = PretrainingDataModule(train_files=args.data, batch_size=args.batch_size)
    data.setup("fit")
    loader = data.train_dataloader()
    if len(data.train_set) < args.batch_size:
        raise SystemExit(f"error: --data {args.data} holds {len(data.train_set)} records, "
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


def timed_steps(sides, warmup: int) -> list[tuple[list[float], list]]:
    """Run ``(step, batches)`` sides in turn, one step each, so load on a shared machine hits all alike.
    Per side: the step times after ``warmup`` steps, and every step's loss."""
    results = [([], []) for _ in sides]
    for k in range(len(sides[0][1])):
        for (step, batches), (times, losses) in zip(sides, results):
            start = time.perf_counter()
            losses.append(step(batches[k]))
            if k >= warmup:
                times.append(time.perf_counter() - start)
    return results


def bench_pretrain(args) -> dict:
    from lightning_modules.cpu_bf16 import bf16_matmul_slowdown, native_bf16

    bf16 = args.precision == "bf16-mixed"
    bf16_support = {"native_bf16": native_bf16(), "bf16_matmul_slowdown": bf16_matmul_slowdown()}
    if bf16 and not native_bf16() and not args.allow_slow_bf16:
        # Tens of times slower than fp32 here: minutes a step at the default sizes, and nothing to learn.
        return {"benchmark": "pretrain", "precision": args.precision, **bf16_support,
                "skipped": "this CPU has no native bf16 (bf16 matmul measured "
                           f"{bf16_matmul_slowdown():.0f}x slower than fp32); --allow-slow-bf16 runs it anyway"}
    from transformers import AlbertConfig, AlbertForPreTraining

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
    if args.data:
        trimmed, batches = record_batches(args, count)
    else:
        batches = synthetic_batches(args, config.vocab_size, count)
        # The DataModule's collate: trim every batch to its longest real sequence.
        trimmed = [collate_pretraining([{k: v[i] for k, v in b.items()} for i in range(len(b["input_ids"]))])
                   for b in batches]

    torch.manual_seed(0)
    ours = AlbertPretrainModule(albert_config=config.to_dict())
    optimizer = Lamb(decay_param_groups(ours.model, 0.01), lr=1e-3)

    def our_step(batch) -> float:
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

    (ref_times, ref_losses), (our_times, our_losses) = timed_steps(
        [(reference_step, batches), (our_step, trimmed)], args.warmup_steps)
    # Per step, from the totals: with --data our batches differ in length, so a median step would mislead.
    our_step_s, ref_step_s = statistics.mean(our_times), statistics.mean(ref_times)
    timed = batches[args.warmup_steps:]
    real_tokens = statistics.mean(float(b["input_mask"].sum()) for b in timed)
    masked = statistics.mean(float(b["masked_lm_weights"].sum()) / args.batch_size for b in timed)
    # FLOPs of the shapes our step computes (batches trimmed to their longest real sequence).
    computed_len = round(statistics.mean(b["input_ids"].shape[1] for b in trimmed[args.warmup_steps:]))
    gflop = model_gflop_per_step(config, args.batch_size, computed_len, round(masked))
    # Only the peak of the dtype this run computes in; against the fallback's "peak" a ratio means nothing.
    peak_dtype = "bf16" if bf16 else "fp32"
    peak = matmul_peak_gflops(torch.bfloat16 if bf16 else torch.float32)
    return {
        "benchmark": "pretrain", "precision": args.precision, "threads": torch.get_num_threads(), **bf16_support,
        "data": args.data or "synthetic", "batch_size": args.batch_size, "seq_len": args.seq_len,
        "sequences_per_s": args.batch_size / our_step_s, "real_tokens_per_s": real_tokens / our_step_s,
        "reference_sequences_per_s": args.batch_size / ref_step_s,
        "reference_real_tokens_per_s": real_tokens / ref_step_s,
        "speedup": ref_step_s / our_step_s, "mean_batch_width": computed_len,
        "model_gflop_per_step": gflop, "achieved_gflops": gflop / our_step_s,
        "matmul_peak_gflops": {peak_dtype: peak},
        "utilization": gflop / our_step_s / peak if bf16_support["native_bf16"] or not bf16 else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loss_first": float(our_losses[0]), "loss_last": float(our_losses[-1]),
        "reference_loss_first": float(ref_losses[0]), "reference_loss_last": float(ref_losses[-1]),
    }


def bench_ddp(args) -> dict:
    """Per-rank and total pretraining throughput of scripts/pretrain.py with 1..N CPU processes (DDP, gloo)."""
    import os
    import subprocess
    import tempfile

    from lightning_modules.reporting.tensorboard_scalars import read_scalars

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = {}
    threads = max(1, (os.cpu_count() or 1) // max(args.devices))
    for devices in args.devices:
        with tempfile.TemporaryDirectory() as root:
            command = [sys.executable, os.path.join(repo, "scripts", "pretrain.py"), "fit",
                       "--config", args.config_yaml,
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
            # Rank 0 logs; its step times stand for every rank's (DDP steps in lockstep).
            speeds = read_scalars(root)["train/sequences_per_s"][args.warmup_steps:]
            per_rank = statistics.median(value for _, value in speeds)
            runs[devices] = {"per_rank_sequences_per_s": per_rank, "total_sequences_per_s": per_rank * devices}
    base = runs[min(runs)]["total_sequences_per_s"] / min(runs)
    for devices, run in runs.items():
        run["scaling_efficiency"] = run["total_sequences_per_s"] / (base * devices)
    return {"benchmark": "ddp", "data": args.data, "batch_size_per_rank": args.batch_size, "cpu_count": os.cpu_count(),
            "threads_per_process": threads, "runs": {str(k): v for k, v in runs.items()}}


def untrained_tagger(args, path: str) -> str:
    """A tagger checkpoint of the sizes in ``args`` with random weights: speed does not depend on the weights."""
    from datamodules.tokenization import tokenizer_state
    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

    state = tokenizer_state(args.tokenizer, True)
    fields = dict(vocab_size=state["vocab_size"], embedding_size=args.embedding_size, hidden_size=args.hidden_size,
                  num_hidden_layers=args.num_layers, num_attention_heads=args.num_heads,
                  intermediate_size=args.intermediate_size, max_position_embeddings=512, hidden_act="gelu_new")
    labels = ["O", "B-Dish", "I-Dish"]
    module = AlbertTokenClassifierModule(label_names=labels, albert_config=fields)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "TokenClassificationDataModule": {"tokenizer": state, "label_names": labels,
                                                  "max_seq_length": 128, "window_overlap": 32}}, path)
    return path


def bench_predict(args) -> dict:
    """predict.py's code path (SpanPredictor) on each backend: reviews/s at batch 32, latency p50/p95 at
    batch 1, the backends taking turns review by review; ONNX exports made from the same weights first."""
    import os
    import tempfile

    from datamodules.span_labels import read_examples
    from lightning_modules.reporting.measurements import inference_profiles

    texts = [e.text for e in read_examples(args.input)][:args.reviews]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or untrained_tagger(args, os.path.join(tmp, "tagger.ckpt"))
        paths, exports = {}, {}
        for backend in args.backends:
            paths[backend] = model_path
            if backend != "torch":  # onnx, onnx-int8: export first, checked on --check-input
                from lightning_modules.inference.onnx_export import export_onnx

                paths[backend] = os.path.join(tmp, backend)
                exports[backend] = export_onnx(model_path, paths[backend], "int8" if backend == "onnx-int8" else None,
                                               args.check_input)
        backends = {name: "torch" if name == "torch" else "onnx" for name in paths}
        timing = inference_profiles(paths, texts, args.latency_reviews, 32, "cpu", backends)
    base = timing.get("torch")
    per_backend = {}
    for name, t in timing.items():
        row = {"reviews_per_s_batch32": t["reviews_per_s_batch32"],
               "latency_ms_p50_batch1": t["latency_ms_batch1"]["p50"],
               "latency_ms_p95_batch1": t["latency_ms_batch1"]["p95"],
               "latency_ms_per_review_batch32": t["latency_ms_per_review_batch32"]}
        if base and name != "torch":
            row["throughput_vs_torch"] = t["reviews_per_s_batch32"] / base["reviews_per_s_batch32"]
            row["p50_latency_vs_torch"] = t["latency_ms_batch1"]["p50"] / base["latency_ms_batch1"]["p50"]
        if name in exports:
            row["export"] = exports[name]
        per_backend[name] = row
    first = per_backend[args.backends[0]]
    return {"benchmark": "predict", "input": args.input, "model": args.model or "untrained", "reviews": len(texts),
            "threads": torch.get_num_threads(), "reviews_per_s_batch32": first["reviews_per_s_batch32"],
            "latency_ms_p50_batch1": first["latency_ms_p50_batch1"],
            "latency_ms_p95_batch1": first["latency_ms_p95_batch1"],
            "backends": per_backend, "mean_review_chars": statistics.mean(len(t) for t in texts)}


def bench_serve(args) -> dict:
    """scripts/serve.py on 127.0.0.1 under --clients concurrent clients for --seconds, clean and then with
    every --malformed-every-th request malformed; beside predict.py's bulk throughput on the same reviews."""
    import os
    import tempfile

    from datamodules.span_labels import read_examples
    from lightning_modules.inference.service_load import load_test, running_server
    from lightning_modules.inference.span_predictor import SpanPredictor

    texts = list(dict.fromkeys(e.text for e in read_examples(args.input)))[:args.reviews]
    options = ["--device", "cpu", "--max-batch-size", str(args.max_batch_size),
               "--batch-timeout", str(args.batch_timeout), *(["--backend", args.backend] if args.backend else [])]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:  # the untrained small tagger, exported as the fastest backend serves it
            from lightning_modules.inference.onnx_export import export_onnx

            model = os.path.join(tmp, "tagger-int8")
            export_onnx(untrained_tagger(args, os.path.join(tmp, "tagger.ckpt")), model, "int8", None)
        predictor = SpanPredictor(model, "cpu", args.backend)
        predictor.predict(texts[:32])  # warm-up
        start = time.perf_counter()
        list(predictor.predict_stream(texts, 32))
        predict_rate = len(texts) / (time.perf_counter() - start)
        del predictor
        with running_server(model, os.path.join(tmp, "serve.log"), *options) as server:
            phases = {}
            for name, every in [("clean", 0), ("with_malformed", args.malformed_every)]:
                phases[name] = load_test(server.port, texts, args.clients, args.seconds, args.max_requests,
                                         args.texts_per_request, every).summary()
                phases[name]["throughput_vs_predict_batch32"] = phases[name]["reviews_per_s"] / predict_rate
            exit_code, stop_s = server.stop()
    return {"benchmark": "serve", "model": args.model or "untrained, ONNX int8",
            "backend": args.backend or "model's default", "reviews": len(texts), "clients": args.clients,
            "texts_per_request": args.texts_per_request,
            "max_batch_size": args.max_batch_size, "batch_timeout_s": args.batch_timeout,
            "predict_reviews_per_s_batch32": predict_rate, "startup_s": server.startup_s, **phases,
            "sigterm_exit_code": exit_code, "sigterm_exit_s": stop_s}


def seed_style_batches(windows, batch_size: int, pad_to: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """The seed tutorial's inputs: every window padded to ``pad_to`` tokens, a label on every position
    (padding, [CLS], [SEP] and whitespace pieces are "O", so its loss runs over all of them)."""
    from datamodules.token_classification import IGNORE_INDEX

    order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed)).tolist()
    batches = []
    for first in range(0, len(order), batch_size):
        items = [windows[i] for i in order[first:first + batch_size]]
        batch = {"input_ids": torch.zeros(len(items), pad_to, dtype=torch.long),
                 "attention_mask": torch.zeros(len(items), pad_to, dtype=torch.long),
                 "labels": torch.zeros(len(items), pad_to, dtype=torch.long)}
        for row, item in enumerate(items):
            n = len(item["input_ids"])
            batch["input_ids"][row, :n] = item["input_ids"]
            batch["attention_mask"][row, :n] = 1
            batch["labels"][row, :n] = torch.where(item["labels"] == IGNORE_INDEX, 0, item["labels"])  # 0 is "O"
        batches.append(batch)
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


@torch.no_grad()
def dev_scores(model, windows, texts, label_names: list[str], batch_size: int) -> dict[str, float]:
    """Loss on labelled tokens and entity F1 of an AlbertForTokenClassification on some dev windows
    (F1 on the ``texts`` those windows cover whole, as in finetune.py's validation)."""
    from datamodules.token_classification import IGNORE_INDEX, collate_windows
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


def bench_finetune(args) -> dict:
    """One fine-tuning epoch: finetune.py's DataModule and module under Lightning vs the seed's loop."""
    import copy

    import lightning.pytorch as pl
    from transformers import AlbertForTokenClassification

    from datamodules.token_classification import TokenClassificationDataModule
    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

    data = TokenClassificationDataModule(train_file=args.train, val_file=args.dev, tokenizer=args.tokenizer,
                                         max_seq_length=args.max_seq_length, batch_size=args.batch_size)
    data.setup("fit")
    train = data.datasets["train"]
    if math.ceil(len(train) / args.batch_size) <= args.warmup_steps or args.batch1_windows <= args.warmup_steps:
        raise SystemExit(f"error: --train {args.train} gives {len(train)} windows: need more than --warmup-steps "
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

    class Interleaved(pl.Callback):
        """After each of our batches (its loading, step and Lightning's bookkeeping timed from the end of
        the previous one), one step of the seed's loop: load on this shared machine hits both alike."""

        def __init__(self, reference_step, reference_batches):
            self.reference_step, self.reference_batches = reference_step, reference_batches
            self.times, self.losses, self.widths, self.ref_times, self.ref_losses = [], [], [], [], []

        def on_train_epoch_start(self, trainer, module):
            self.last = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.times.append(time.perf_counter() - self.last)
            self.losses.append(float(outputs["loss"]))
            self.widths.append(batch["input_ids"].shape[1])
            start = time.perf_counter()
            self.ref_losses.append(self.reference_step(self.reference_batches[batch_idx]))
            self.last = time.perf_counter()
            self.ref_times.append(self.last - start)

    # The seed's approach on the same windows and labels, padded before timing; same batch count as ours.
    reference = seed_model()
    clock = Interleaved(seed_style_step(reference, args.learning_rate),
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


# google-research/ALBERT's create_pretraining_data.py on nyt_dish/reviews.txt, seq 128, dupe 5, vocab
# nyt_spm.model, one process (tensorflow-cpu 2.21, 2-core machine): the recorded figure from
# ../shared/data/google_tfrecord/README.md, since TensorFlow is not installed here.
GOOGLE_DATAGEN = {"input": "nyt_dish/reviews.txt", "max_seq_length": 128, "max_predictions_per_seq": 20,
                  "dupe_factor": 5, "seconds": 28.5, "import_seconds": 2.4, "instances": 14734}


class ProcessTreeMemory:
    """Peak memory of this process and all its descendants (the forked workers), summed, sampled every
    ``interval`` seconds from /proc (Linux) in a thread: ``peak_rss`` counts pages shared after a fork
    (torch's, imported by the tfrecord package) once per process, as ``ps`` would add them up;
    ``peak_pss`` shares them out (/proc/PID/smaps_rollup), the memory the tree really holds."""

    def __init__(self, interval: float = 0.05):
        import threading

        self.interval, self.peak_rss, self.peak_pss = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _tree(root: int) -> list[int]:
        import os

        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:  # ended meanwhile
                    continue
                children.setdefault(ppid, []).append(int(name))
        tree, todo = [], [root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return tree

    @staticmethod
    def _kilobytes(path: str, field: str) -> int:
        try:
            with open(path) as f:
                return next((int(line.split()[1]) for line in f if line.startswith(field)), 0)
        except OSError:
            return 0

    def _sample(self) -> None:
        import os

        while True:
            tree = self._tree(os.getpid())
            rss = sum(self._kilobytes(f"/proc/{pid}/status", "VmRSS:") for pid in tree)
            pss = sum(self._kilobytes(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in tree)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss * 1024), max(self.peak_pss, pss * 1024)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "ProcessTreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def bench_datagen(args) -> dict:
    """create_pretraining_data (the function scripts/create_pretraining_data.py calls) on a corpus."""
    import os
    import tempfile

    from datamodules.corpus_formats import expand_corpus_files
    from datamodules.pretraining_data import create_pretraining_data
    from datamodules.pretraining_instances import MaskingConfig

    cfg = MaskingConfig(max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
                        masked_lm_prob=args.masked_lm_prob)
    input_mb = sum(os.path.getsize(f.path) for f in expand_corpus_files(args.input, "sentences", "--input")) / 1e6
    with tempfile.TemporaryDirectory() as tmp, ProcessTreeMemory() as memory:
        start = time.perf_counter()
        summary = create_pretraining_data(args.input, os.path.join(tmp, "bench.tfrecord"), args.vocab, cfg,
                                          dupe_factor=args.dupe_factor, num_workers=args.workers,
                                          documents_per_piece=args.documents_per_piece, progress=False)
        seconds = time.perf_counter() - start
        output_mb = sum(os.path.getsize(f) for f in summary.output_files) / 1e6
    result = {"benchmark": "datagen", "input": args.input, "vocab": args.vocab, "workers": args.workers,
              "max_seq_length": args.max_seq_length, "max_predictions_per_seq": args.max_predictions_per_seq,
              "dupe_factor": args.dupe_factor, "masked_lm_prob": args.masked_lm_prob,
              "documents_per_piece": args.documents_per_piece, "shards": len(summary.output_files),
              "instances": summary.instances, "input_mb": input_mb, "output_mb": output_mb, "seconds": seconds,
              "instances_per_s": summary.instances / seconds,
              "instances_per_s_per_worker": summary.instances / seconds / args.workers,
              "input_mb_per_s": input_mb / seconds,
              "peak_tree_rss_mb": memory.peak_rss / 1e6, "peak_tree_pss_mb": memory.peak_pss / 1e6}
    g = GOOGLE_DATAGEN
    same_job = (args.input.replace(os.sep, "/").endswith(g["input"]) and args.max_seq_length == g["max_seq_length"]
                and args.max_predictions_per_seq == g["max_predictions_per_seq"]
                and args.dupe_factor == g["dupe_factor"])
    if same_job:  # the recorded reference only applies to the job it timed
        result.update({
            "reference": "google-research/ALBERT create_pretraining_data.py, one process: recorded figure from "
                         "../shared/data/google_tfrecord/README.md (TensorFlow is not installed here)",
            "reference_seconds": g["seconds"], "reference_instances": g["instances"],
            "reference_instances_per_s": g["instances"] / g["seconds"],
            "speedup_vs_google": g["seconds"] / seconds,
            # Google's 28.5 s include 2.4 s of imports; ours exclude Python start-up.
            "speedup_vs_google_without_imports": (g["seconds"] - g["import_seconds"]) / seconds})
    return result


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
    pre.add_argument("--allow-slow-bf16", action="store_true",
                     help="run bf16-mixed even on a CPU without native bf16 (default: report that and skip)")
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
    pred.add_argument("--backends", nargs="+", choices=["torch", "onnx", "onnx-int8"], default=["torch"],
                      help="what runs the model, each timed in turn (default: torch)")
    pred.add_argument("--check-input", help="labelled reviews the ONNX exports are checked on (span F1 change)")
    pred.add_argument("--threads", type=int, help="torch and ONNX Runtime threads (default: torch's choice)")
    pred.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    serve = sub.add_parser("serve", help="serve.py under concurrent clients: reviews/s, latency p50/p95/p99, errors")
    serve.add_argument("--model", help="tagger: .ckpt, HF or ONNX directory (default: an untrained small tagger, "
                                       "ONNX int8)")
    serve.add_argument("--tokenizer", help="SentencePiece .model or vocab.txt for the untrained tagger")
    serve.add_argument("--input", required=True, help="reviews: a review,dish_name CSV or a BIO file")
    serve.add_argument("--backend", choices=["torch", "onnx"], help="default: what the model holds")
    for name, default in [("reviews", 1000), ("clients", 16), ("texts-per-request", 1), ("malformed-every", 10),
                          ("max-batch-size", 16), ("max-requests", 100_000), ("embedding-size", 128),
                          ("hidden-size", 256), ("num-layers", 4), ("num-heads", 4), ("intermediate-size", 1024)]:
        serve.add_argument(f"--{name}", type=int, default=default)
    serve.add_argument("--seconds", type=float, default=30.0, help="per phase (clean, then with malformed requests)")
    serve.add_argument("--batch-timeout", type=float, default=0.005)
    serve.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    gen = sub.add_parser("datagen", help="create_pretraining_data on a corpus: instances/s, peak memory of the "
                                         "process tree, vs Google's script")
    gen.add_argument("--input", required=True, help="corpus: one sentence per line, blank line between documents "
                                                    "(or FORMAT:GLOB, e.g. lines:reviews.txt)")
    gen.add_argument("--vocab", required=True, help="SentencePiece .model or WordPiece vocab.txt")
    gen.add_argument("--workers", type=int, default=2)
    gen.add_argument("--documents_per_piece", type=int, default=DEFAULT_DOCUMENTS_PER_PIECE)
    for name, kind, default in [("max_seq_length", int, 128), ("max_predictions_per_seq", int, 20),
                                ("dupe_factor", int, 5), ("masked_lm_prob", float, 0.15)]:
        gen.add_argument(f"--{name}", type=kind, default=default)
    gen.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    fine = sub.add_parser("finetune", help="one fine-tuning epoch: finetune.py's modules vs the seed's padded loop")
    fine.add_argument("--train", required=True, help="review,dish_name CSV or BIO file")
    fine.add_argument("--dev", required=True, help="CSV or BIO file; its first --dev-windows windows are scored")
    fine.add_argument("--tokenizer", required=True, help="SentencePiece .model or vocab.txt")
    for name, default in [("embedding-size", 128), ("hidden-size", 256), ("num-layers", 4), ("num-heads", 4),
                          ("intermediate-size", 1024), ("batch-size", 32), ("warmup-steps", 3),
                          ("batch1-windows", 64), ("dev-windows", 256)]:
        fine.add_argument(f"--{name}", type=int, default=default)
    fine.add_argument("--max-seq-length", type=int, default=64,
                      help="our longest window; the seed pads every window to it (default: the seed's 64)")
    fine.add_argument("--learning-rate", type=float, default=1e-4)
    fine.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    fine.add_argument("--json", action="store_true", help="compact JSON (default: indented)")
    args = p.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if args.command in ("predict", "serve") and not (args.model or args.tokenizer):
        p.error(f"{args.command} needs --model or --tokenizer")
    benchmarks = {"pretrain": bench_pretrain, "ddp": bench_ddp, "predict": bench_predict, "serve": bench_serve,
                  "datagen": bench_datagen, "finetune": bench_finetune}
    from lightning_modules.cpu_bf16 import cpu_capability

    result = {**benchmarks[args.command](args), "cpu_capability": cpu_capability()}
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
