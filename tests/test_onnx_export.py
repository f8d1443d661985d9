"""ONNX export: logits equal to PyTorch's, predict.py identical on both backends, int8 reported, bad input one line."""
import json

import numpy as np
import pytest
import torch

from conftest import SAMPLE, assert_one_line_error, run_script
from datamodules.common.errors import UserInputError
from lightning_modules.inference.onnx_export import FP32_LOGIT_TOLERANCE, export_onnx
from lightning_modules.inference.span_predictor import SpanPredictor


@pytest.fixture(scope="module")
def onnx_dir(tagger_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "tagger-onnx"
    result = run_script("export_onnx.py", "--model", str(tagger_ckpt), "--output", str(out),
                        "--check-input", str(SAMPLE / "dish_val.csv"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"wrote {out} (fp32") and "span F1" in result.stdout
    return out, json.loads((out / "tagger.json").read_text())


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    lines = (SAMPLE / "reviews.txt").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("reviews") / "reviews.txt"
    path.write_text("\n".join([line for line in lines if line.strip()][:40]), encoding="utf-8")
    return path


def test_export_writes_a_self_checked_directory(onnx_dir):
    out, export = onnx_dir
    expected = {"model.onnx", "config.json", "model.safetensors", "spiece.model", "tagger.json"}
    assert expected <= {p.name for p in out.iterdir()}
    settings = json.loads((out / "tagger.json").read_text())
    assert settings["max_seq_length"] == 32 and settings["window_overlap"] == 8  # the checkpoint's windows
    assert settings["precision"] == "fp32" and settings["onnx_file"] == "model.onnx"
    assert export["fused_operators"].get("SkipLayerNormalization", 0) > 0  # the optimizer fused something
    check = export["check"]
    assert check["max_abs_logit_difference"] <= FP32_LOGIT_TOLERANCE and check["reviews"] > 100
    # A random tagger has near-ties that rounding can flip; a trained one rarely does.
    assert check["reviews_with_changed_spans"] <= 0.01 * check["reviews"] and abs(check["span_f1_change"]) < 0.01


@pytest.mark.parametrize("padded", [False, True])
def test_onnx_logits_equal_torch_on_any_batch_and_length(onnx_dir, padded):
    out, _ = onnx_dir
    torch_tagger = SpanPredictor(str(out), "cpu", "torch").tagger
    onnx_tagger = SpanPredictor(str(out), "cpu", "onnx").tagger
    assert (torch_tagger.backend, onnx_tagger.backend) == ("torch", "onnx")
    ids = torch.randint(5, 1600, (3, 27), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    if padded:
        mask[1, 20:], mask[2, 9:] = 0, 0
    a, b = torch_tagger.logits(ids, mask), onnx_tagger.logits(ids, mask)
    real = mask.bool().numpy()
    assert np.abs(a - b)[real].max() <= FP32_LOGIT_TOLERANCE


def test_predict_gives_the_same_spans_on_every_backend(onnx_dir, tagger_ckpt, reviews, tmp_path):
    out, _ = onnx_dir
    outputs = {}
    for name, model in {"ckpt": tagger_ckpt, "onnx": out}.items():  # torch for the .ckpt, onnx for the directory
        result = run_script("predict.py", "--model", str(model), "--input", str(reviews), "--output",
                            str(tmp_path / f"{name}.jsonl"))
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[name] = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text("utf-8").splitlines()]
    texts = [record["text"] for record in outputs["ckpt"]]
    hf_torch = SpanPredictor(str(out), "cpu", "torch").predict(texts)  # the directory's own PyTorch weights
    assert [[(e["start"], e["end"], e["score"]) for e in entities] for entities in hf_torch] == \
        [[(d["start"], d["end"], d["score"]) for d in record["dishes"]] for record in outputs["ckpt"]]
    for ours, theirs in zip(outputs["ckpt"], outputs["onnx"], strict=True):  # the same spans; scores to rounding
        assert ours["text"] == theirs["text"]
        assert [(d["text"], d["start"], d["end"]) for d in ours["dishes"]] == \
            [(d["text"], d["start"], d["end"]) for d in theirs["dishes"]]
        assert all(abs(a["score"] - b["score"]) <= 2e-4 for a, b in zip(ours["dishes"], theirs["dishes"]))
    assert len(outputs["onnx"]) == 40 and sum(len(r["dishes"]) for r in outputs["onnx"]) > 0


def test_int8_export_reports_what_quantization_changed(tagger_ckpt, tmp_path):
    export_onnx(str(tagger_ckpt), str(tmp_path / "int8"), "int8", str(SAMPLE / "dish_val.csv"))
    settings = json.loads((tmp_path / "int8" / "tagger.json").read_text())
    assert settings["precision"] == "int8"
    check = settings["check"]
    assert 0 <= check["reviews_with_changed_spans"] <= check["reviews"] and check["max_abs_logit_difference"] > 0
    assert -1 <= check["span_f1_change"] <= 1
    int8 = tmp_path / "int8"
    assert (int8 / "model.onnx").stat().st_size < 0.5 * (int8 / "model.safetensors").stat().st_size
    predictor = SpanPredictor(str(tmp_path / "int8"), "cpu")
    assert predictor.tagger.backend == "onnx" and isinstance(predictor.predict(["the laksa was great"])[0], list)


def test_export_and_backend_errors_are_one_line(tagger_ckpt, onnx_dir, reviews, tmp_path):
    out, _ = onnx_dir
    assert_one_line_error(run_script("export_onnx.py", "--model", str(tagger_ckpt), "--output", str(out)),
                          "exists", "--overwrite")
    assert_one_line_error(run_script("predict.py", "--model", str(tagger_ckpt), "--backend", "onnx", "--input",
                                     str(reviews)), "export_onnx.py")
    with pytest.raises(UserInputError, match="does not exist"):
        export_onnx(str(tmp_path / "missing.ckpt"), str(tmp_path / "x"))
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text("{}")
    with pytest.raises(UserInputError, match="not a tagger"):
        export_onnx(str(hf_dir), str(tmp_path / "x"))
    with pytest.raises(UserInputError, match="not a tagger"):
        SpanPredictor(str(hf_dir), "cpu")
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".onnx-export-*"))  # nothing half-written
