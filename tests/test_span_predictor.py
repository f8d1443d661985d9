"""SpanPredictor: predict_stream reads ahead for length grouping but keeps every text with its own result."""
import torch

from conftest import TINY_ALBERT
from datamodules.tokenization import tokenizer_state
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.span_predictor import SORT_CHUNK_BATCHES, SpanPredictor

LABELS = ["O", "B-Dish", "I-Dish"]


def test_stream_keeps_input_order_across_chunks(shared_data, tmp_path):
    torch.manual_seed(0)
    module = AlbertTokenClassifierModule(label_names=LABELS, albert_config={**TINY_ALBERT, "vocab_size": 1600})
    path = tmp_path / "tagger.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "TokenClassificationDataModule": {
                    "tokenizer": tokenizer_state(str(shared_data / "google_tfrecord" / "reviews_spm.model"), True),
                    "label_names": LABELS, "max_seq_length": 32, "window_overlap": 8}}, path)
    predictor = SpanPredictor(str(path), "cpu")
    lines = (shared_data / "restaurant_reviews" / "reviews.txt").read_text(encoding="utf-8").splitlines()
    texts = [line for line in lines if line.strip()][:2 * SORT_CHUNK_BATCHES + 3]  # 3 chunks at batch 1
    streamed = list(predictor.predict_stream(texts, batch_size=1))
    assert [text for text, _ in streamed] == texts
    one_by_one = [predictor.predict([text], batch_size=1)[0] for text in texts]
    assert [entities for _, entities in streamed] == one_by_one  # batch 1: no padding, so results are exact
