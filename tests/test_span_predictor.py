"""SpanPredictor and predict.py: input order kept across chunks, a BOM dropped, the label scheme and
the spans the same from a .ckpt and from its HF directory."""
import importlib.util
import io
import json

import pytest

from conftest import REPO, SAMPLE, save_random_tagger
from lightning_modules.inference.hf_export import export_checkpoint
from lightning_modules.inference.span_predictor import SORT_CHUNK_BATCHES, SpanPredictor

REVIEWS = ["the laksa and roti canai were great", "Mac & cheese (baked) was fine, the crème brûlée too."]


@pytest.fixture(scope="module")
def tagger_ckpt(sample_spm, tmp_path_factory):
    """A tiny random tagger trained on first sub-tokens."""
    return save_random_tagger(tmp_path_factory.mktemp("tagger") / "tagger.ckpt", sample_spm, label_scheme="first")


def predict_main(argv):
    spec = importlib.util.spec_from_file_location("predict", REPO / "scripts" / "predict.py")
    predict = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(predict)
    return predict.main(argv)


def test_stream_keeps_input_order_across_chunks(tagger_ckpt):
    predictor = SpanPredictor(str(tagger_ckpt), "cpu")
    lines = (SAMPLE / "reviews.txt").read_text(encoding="utf-8").splitlines()
    texts = [line for line in lines if line.strip()][:2 * SORT_CHUNK_BATCHES + 3]  # 3 chunks at batch 1
    streamed = list(predictor.predict_stream(texts, batch_size=1))
    assert [text for text, _ in streamed] == texts
    one_by_one = [predictor.predict([text], batch_size=1)[0] for text in texts]
    assert [entities for _, entities in streamed] == one_by_one  # batch 1: no padding, so results are exact


def test_predict_drops_a_bom_and_reads_an_hf_directory(tagger_ckpt, tmp_path, monkeypatch, capsys):
    hf_dir = tmp_path / "hf"
    export_checkpoint(str(tagger_ckpt), str(hf_dir))
    assert json.loads((hf_dir / "tagger.json").read_text())["label_scheme"] == "first"
    assert SpanPredictor(str(hf_dir), "cpu").tagger.label_scheme == "first"
    plain, with_bom = tmp_path / "plain.txt", tmp_path / "bom.txt"
    plain.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    with_bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    outputs = {}
    for name, model, source in (("ckpt", tagger_ckpt, plain), ("ckpt_bom", tagger_ckpt, with_bom),
                                ("hf_bom", hf_dir, with_bom)):
        assert predict_main(["--model", str(model), "--input", str(source), "--output", str(tmp_path / name)]) == 0
        outputs[name] = [json.loads(line) for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()]
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeff" + "\n".join(REVIEWS)))
    assert predict_main(["--model", str(hf_dir), "--input", "-"]) == 0
    outputs["hf_stdin"] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert outputs["ckpt"] == outputs["ckpt_bom"] and outputs["hf_bom"] == outputs["hf_stdin"]
    for ours, theirs in zip(outputs["ckpt"], outputs["hf_bom"], strict=True):  # scores equal to rounding
        assert [(d["start"], d["end"]) for d in ours["dishes"]] == [(d["start"], d["end"]) for d in theirs["dishes"]]
    assert [r["text"] for r in outputs["ckpt_bom"]] == REVIEWS
    dishes = [(r["text"], d) for r in outputs["ckpt_bom"] for d in r["dishes"]]
    assert dishes and all(text[d["start"]:d["end"]] == d["text"] for text, d in dishes)
