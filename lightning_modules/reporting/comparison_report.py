"""The ALBERT-vs-BERT report: a table, a one-paragraph answer computed from it, and a PNG.

``results`` is what scripts/compare.py measured: ``results["models"][model_type]`` holds
``parameters``, ``disk_mb``, ``pretrain``, ``finetune`` (per init: ``pretrained`` / ``none``, each with
its ``test`` metrics) and ``inference``. Nothing here is typed by hand: the answer is formatted from
the same numbers as the table.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

MODELS = ("albert", "bert")
INITS = (("pretrained", "pretrained"), ("none", "no pretraining"))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def answer(results: dict) -> str:
    """One paragraph: ALBERT relative to BERT, from the measured numbers."""
    a, b = (results["models"][m] for m in MODELS)
    pa, pb = a["parameters"], b["parameters"]
    f1 = {m: {init: results["models"][m]["finetune"][init]["test"]["f1"] for init, _ in INITS} for m in MODELS}
    latency_a, latency_b = a["inference"]["latency_ms_batch1"]["p50"], b["inference"]["latency_ms_batch1"]["p50"]
    return (
        f"At hidden size {results['hidden_size']} and {results['num_layers']} layers, ALBERT has "
        f"{pb['total'] / pa['total']:.1f}x fewer encoder parameters than BERT ({pa['total'] / 1e6:.2f}M vs "
        f"{pb['total'] / 1e6:.2f}M; embeddings {pa['embedding'] / 1e6:.2f}M vs {pb['embedding'] / 1e6:.2f}M) and a "
        f"{_ratio(b['disk_mb']['safetensors'], a['disk_mb']['safetensors'])} smaller model file. It pretrains at "
        f"{_ratio(a['pretrain']['sequences_per_s'], b['pretrain']['sequences_per_s'])} BERT's speed "
        f"({a['pretrain']['sequences_per_s']:.1f} vs {b['pretrain']['sequences_per_s']:.1f} sequences/s) and "
        f"takes {_ratio(latency_a, latency_b)} BERT's time per review at batch 1 (p50 {latency_a:.1f} vs "
        f"{latency_b:.1f} ms). Dish F1 on the test set after the same pretraining and fine-tuning budget: ALBERT "
        f"{f1['albert']['pretrained']:.3f} vs BERT {f1['bert']['pretrained']:.3f} "
        f"({f1['albert']['pretrained'] - f1['bert']['pretrained']:+.3f}); without pretraining "
        f"{f1['albert']['none']:.3f} vs {f1['bert']['none']:.3f} "
        f"({f1['albert']['none'] - f1['bert']['none']:+.3f}). Pretraining changed F1 by "
        f"{f1['albert']['pretrained'] - f1['albert']['none']:+.3f} for ALBERT and "
        f"{f1['bert']['pretrained'] - f1['bert']['none']:+.3f} for BERT."
    )


def _rows(results: dict) -> list[tuple[str, str, str]]:
    models = results["models"]

    def row(label: str, get, fmt: str) -> tuple[str, str, str]:
        return (label, *(format(get(models[m]), fmt) for m in MODELS))

    batch = results["batch_size"]
    rows = [
        row("encoder parameters", lambda m: m["parameters"]["total"], ","),
        row("embedding parameters", lambda m: m["parameters"]["embedding"], ","),
        row("model file, safetensors (MB)", lambda m: m["disk_mb"]["safetensors"], ".2f"),
        row("fine-tuned checkpoint with optimizer state (MB)", lambda m: m["disk_mb"]["checkpoint"], ".2f"),
        row("pretraining sequences/s", lambda m: m["pretrain"]["sequences_per_s"], ".1f"),
        row("pretraining wall time (s)", lambda m: m["pretrain"]["seconds"], ".0f"),
        row("pretraining final train loss", lambda m: m["pretrain"]["loss_last"], ".3f"),
        row("pretraining peak memory (MB RSS)", lambda m: m["pretrain"]["peak_rss_mb"], ".0f"),
    ]
    for init, label in INITS:
        rows.append(row(f"fine-tuning wall time, {label} (s)", lambda m: m["finetune"][init]["seconds"], ".0f"))
    rows.append(row("fine-tuning peak memory (MB RSS)", lambda m: m["finetune"]["pretrained"]["peak_rss_mb"], ".0f"))
    for key, label in (("latency_ms_batch1", "batch 1"), (f"latency_ms_per_review_batch{batch}", f"batch {batch}")):
        for p in ("p50", "p95"):
            rows.append(row(f"inference ms per review, {label}, {p}", lambda m: m["inference"][key][p], ".2f"))
    rows += [
        row(f"inference reviews/s, batch {batch}", lambda m: m["inference"][f"reviews_per_s_batch{batch}"], ".1f"),
        row("inference peak memory (MB RSS)", lambda m: m["inference"]["peak_rss_mb"], ".0f"),
    ]
    for init, label in INITS:
        rows.append(row(f"test entity F1, {label}", lambda m: m["finetune"][init]["test"]["f1"], ".3f"))
        rows.append(row(f"test precision / recall, {label}",
                        lambda m: f"{m['finetune'][init]['test']['precision']:.3f} / "
                                  f"{m['finetune'][init]['test']['recall']:.3f}", ""))
    return rows


def markdown(results: dict) -> str:
    lines = [f"# ALBERT vs BERT on {results['task']}", "",
             f"{results['machine']}, {results['date']}; config `{results['config']}`. "
             "Memory is the peak resident set of each stage's process (Python and torch included).", "",
             answer(results), "", "| | ALBERT | BERT |", "|---|---:|---:|"]
    lines += [f"| {label} | {a} | {b} |" for label, a, b in _rows(results)]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    panels = [
        ("encoder parameters (M)", {m: models[m]["parameters"]["total"] / 1e6 for m in MODELS}),
        ("pretraining sequences/s", {m: models[m]["pretrain"]["sequences_per_s"] for m in MODELS}),
        ("ms per review, batch 1 (p50)", {m: models[m]["inference"]["latency_ms_batch1"]["p50"] for m in MODELS}),
        *((f"test F1, {label}", {m: models[m]["finetune"][init]["test"]["f1"] for m in MODELS})
          for init, label in INITS),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.8))
    for ax, (title, values) in zip(axes, panels):
        bars = ax.bar([m.upper() for m in values], list(values.values()), color=["tab:blue", "tab:orange"])
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(results: dict, output_dir: str) -> list[str]:
    """report.json, report.md and report.png in ``output_dir``, each written whole (temp file, then rename)."""
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for name, write in (("report.json", lambda p: Path(p).write_text(json.dumps(results, indent=2) + "\n")),
                        ("report.md", lambda p: Path(p).write_text(markdown(results))),
                        ("report.png", lambda p: plot(results, p))):
        path = os.path.join(output_dir, name)
        tmp = os.path.join(output_dir, f".tmp-{name}")
        write(tmp)
        os.replace(tmp, path)
        paths.append(path)
    return paths
