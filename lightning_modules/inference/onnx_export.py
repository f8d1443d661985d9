"""A fine-tuned tagger -> a directory that predict.py serves with ONNX Runtime, checked against PyTorch.

The directory is the tagger's HF ``save_pretrained`` directory (so ``--backend torch`` still works on
it) plus ``model.onnx``: the token classifier with dynamic batch and sequence axes, exported by
torch's ONNX exporter, then fused by onnxruntime's transformer optimizer (LayerNorm + residual,
GELU; the operator counts go into ``tagger.json``) and, with ``quantize="int8"``, dynamically
quantized (int8 weights, activations quantized per batch at run time).

optimum's exporter is not used: it pins transformers < 4.58, older than this project's.

The export checks itself on real reviews: the fp32 graph's logits must match PyTorch's to
``FP32_LOGIT_TOLERANCE`` or the export fails; for int8 the logit difference, the reviews whose spans
change and, for a labelled file, the span F1 of both are reported (quantization moves logits by
design). Everything is written to a temporary folder beside the output and renamed at the end.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile

import numpy as np
import torch

from datamodules.common.errors import UserInputError
from datamodules.common.files import publish_directory
from datamodules.tagging.bio import label_index
from datamodules.tagging.datamodule import TokenWindows, collate_windows, encode_text
from datamodules.tagging.span_labels import TextExample, read_examples
from lightning_modules.inference.hf_export import export_checkpoint
from lightning_modules.inference.tagger_backends import (
    ONNX_FILE,
    TRAINING_SETTINGS,
    LogitsModel,
    load_hf_token_classifier,
    load_tagger,
    read_tagger_config,
    write_tagger_config,
)

FP32_LOGIT_TOLERANCE = 1e-4
OPSET = 18
QUANTIZATIONS = ("int8",)
# Used when no --check-input is given: reviews of the kinds the taggers see, long and short.
CHECK_REVIEWS = [
    "I like the mala steamboat a lot, and the chicken rice was good too.",
    "Service was slow. The laksa and roti canai were great though!",
    "ok",
    "We shared the char kway teow, xiao long bao, chicken tikka masala and a mango lassi; " * 6,
]


@contextlib.contextmanager
def _quiet_logger(name: str):
    """Errors only from ``name`` while inside (e.g. the exporter's note that torchvision is absent)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _export_graph(model: torch.nn.Module, path: str) -> None:
    # Padding in the example: traced with an all-ones mask, transformers may drop the mask from the graph.
    input_ids = torch.tensor([[2, 10, 11, 12, 3], [2, 10, 3, 0, 0]])
    attention_mask = (input_ids != 0).long()
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with contextlib.redirect_stdout(io.StringIO()), _quiet_logger("torch.onnx"):  # it narrates every pass
        torch.onnx.export(LogitsModel(model).eval(), (input_ids, attention_mask), path, dynamo=True,
                          external_data=False,  # one file: the small models here are far below protobuf's 2 GB
                          input_names=["input_ids", "attention_mask"], output_names=["logits"], opset_version=OPSET,
                          dynamic_shapes={"input_ids": {0: batch, 1: sequence},
                                          "attention_mask": {0: batch, 1: sequence}})


def _optimize(path: str, config) -> dict[str, int]:
    """onnxruntime's transformer fusions in place; the fused operators found (zero counts left out)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(path, model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size)
    optimized.save_model_to_file(path)
    return {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}


def _quantize_int8(source: str, target: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused operators are outside ONNX's type inference: their outputs are float. (Its advice to run
    # a shape-inference pre-pass is for static quantization; dynamic needs no activation ranges.)
    with _quiet_logger(""):
        quantize_dynamic(source, target, weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def _check_examples(check_input: str | None) -> list[TextExample]:
    if check_input is None:
        return [TextExample(text) for text in CHECK_REVIEWS]
    examples = [e for e in read_examples(check_input) if e.text.strip()]
    if not examples:
        raise UserInputError(f"--check-input {check_input}: no reviews")
    return examples


def _logit_difference(torch_tagger, onnx_tagger, examples: list[TextExample], batch_size: int = 32) -> float:
    """Largest |logit difference| on the real tokens of every window of ``examples``."""
    index = label_index(torch_tagger.label_names)
    encoded = [encode_text(torch_tagger.tokenizer, TextExample(e.text), index) for e in examples]
    windows = TokenWindows(encoded, torch_tagger.tokenizer, torch_tagger.max_seq_length, torch_tagger.window_overlap)
    largest = 0.0
    for first in range(0, len(windows), batch_size):
        batch = collate_windows([windows[i] for i in range(first, min(first + batch_size, len(windows)))])
        real = batch["attention_mask"].bool().numpy()
        a = torch_tagger.logits(batch["input_ids"], batch["attention_mask"])
        b = onnx_tagger.logits(batch["input_ids"], batch["attention_mask"])
        largest = max(largest, float(np.abs(a - b)[real].max()))
    return largest


def span_f1(examples: list[TextExample], predicted: list[list[dict]]) -> float:
    """Exact character-span F1 (type included) of predictions against the examples' spans."""
    gold = {(i, s.start, s.end, s.type) for i, e in enumerate(examples) for s in e.spans}
    found = {(i, p["start"], p["end"], p["type"]) for i, entities in enumerate(predicted) for p in entities}
    hits = len(gold & found)
    return 2 * hits / max(len(gold) + len(found), 1)


def _spans(entities: list[dict]) -> list[tuple]:
    return [(e["start"], e["end"], e["type"]) for e in entities]


def check_export(directory: str, precision: str, check_input: str | None) -> dict:
    """PyTorch vs ONNX Runtime on the same windows and reviews; fp32 beyond the tolerance is an error."""
    from lightning_modules.inference.span_predictor import SpanPredictor

    examples = _check_examples(check_input)
    torch_side, onnx_side = SpanPredictor(directory, "cpu", "torch"), SpanPredictor(directory, "cpu", "onnx")
    difference = _logit_difference(torch_side.tagger, onnx_side.tagger, examples)
    texts = [e.text for e in examples]
    torch_spans, onnx_spans = torch_side.predict(texts), onnx_side.predict(texts)
    changed = sum(_spans(a) != _spans(b) for a, b in zip(torch_spans, onnx_spans))
    report = {"check_input": check_input or "built-in reviews", "reviews": len(texts),
              "max_abs_logit_difference": difference, "reviews_with_changed_spans": changed}
    if any(e.spans for e in examples):
        report["span_f1_torch"], report["span_f1_onnx"] = span_f1(examples, torch_spans), span_f1(examples, onnx_spans)
        report["span_f1_change"] = report["span_f1_onnx"] - report["span_f1_torch"]
    if precision == "fp32" and difference > FP32_LOGIT_TOLERANCE:
        raise UserInputError(f"ONNX export check failed: logits differ from PyTorch by {difference:.2e} "
                             f"(tolerance {FP32_LOGIT_TOLERANCE:.0e}) on {report['check_input']}")
    return report


def _tagger_directory(model: str, directory: str) -> None:
    """The tagger's HF directory in ``directory``: exported from a .ckpt, or copied without its ONNX files."""
    if os.path.isdir(model):
        shutil.copytree(model, directory, dirs_exist_ok=True,
                        ignore=lambda folder, names: [n for n in names if n.endswith(".onnx")])
    else:
        export_checkpoint(model, directory, overwrite=True)
    load_tagger(directory, backend="torch", device="cpu")  # a tagger (labels, tokenizer), or a one-line error


def export_onnx(model: str, output_dir: str, quantize: str | None = None, check_input: str | None = None,
                overwrite: bool = False) -> dict:
    """Write ``output_dir`` (see the module's doc); return what ``tagger.json`` records about the export."""
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise UserInputError(f"--quantize {quantize}: expected one of {', '.join(QUANTIZATIONS)}")
    if os.path.exists(output_dir) and not overwrite:
        raise UserInputError(f"--output {output_dir} exists (pass --overwrite to replace it)")
    if not os.path.exists(model):
        raise UserInputError(f"--model {model} does not exist (expected a fine-tuned .ckpt or a HF tagger directory)")
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".onnx-export-", dir=parent)
    try:
        _tagger_directory(model, tmp)
        hf_model = load_hf_token_classifier(tmp)
        onnx_path = os.path.join(tmp, ONNX_FILE)
        _export_graph(hf_model, onnx_path)
        fused = _optimize(onnx_path, hf_model.config)
        if quantize == "int8":
            fp32_path = os.path.join(tmp, "model-fp32.onnx")
            os.replace(onnx_path, fp32_path)
            _quantize_int8(fp32_path, onnx_path)
            os.remove(fp32_path)
        precision = quantize or "fp32"
        settings = {k: v for k, v in read_tagger_config(tmp).items() if k in TRAINING_SETTINGS}
        export = {"onnx_file": ONNX_FILE, "precision": precision, "opset": OPSET, "fused_operators": fused,
                  "onnx_mb": round(os.path.getsize(onnx_path) / 1e6, 2)}
        write_tagger_config(tmp, {**settings, **export})  # the check loads the directory as predict.py will
        export["check"] = check_export(tmp, precision, check_input)
        write_tagger_config(tmp, {**settings, **export})
        publish_directory(tmp, output_dir)  # readable as the umask allows, not mkdtemp's 0700
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return export
