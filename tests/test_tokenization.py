import pytest
import sentencepiece as spm

from conftest import SAMPLE
from datamodules.common.errors import UserInputError
from datamodules.text.tokenization import load_tokenizer, preprocess_text
from datamodules.text.vocab_training import train_sentencepiece


def test_sentencepiece_ids_equal_sentencepiece_own_ids(sample_spm):
    tok = load_tokenizer(sample_spm, do_lower_case=True)
    sp = spm.SentencePieceProcessor(model_file=str(sample_spm))
    lines = (SAMPLE / "reviews.txt").read_text(encoding="utf-8").splitlines()[:300]
    lines = [line for line in lines if line.strip()]
    ours = tok.encode_lines(lines)
    theirs = [sp.encode(preprocess_text(line, lower=True)) for line in lines]
    differing = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    # Only Google's digit-comma rule ("1," -> "1" ",") may differ from plain sentencepiece.
    for i in differing:
        assert any(sp.id_to_piece(t).endswith(",") and sp.id_to_piece(t)[-2:-1].isdigit() for t in theirs[i])
    assert len(differing) < len(lines) // 10
    assert (tok.cls_id, tok.sep_id, tok.mask_id, tok.vocab[0], tok.vocab[1]) == (2, 3, 4, "<pad>", "<unk>")


def test_transformers_albert_tokenizer_agrees(sample_spm, tmp_path):
    """The ids we feed the model equal what AlbertTokenizer makes from the same spiece.model."""
    from transformers import AlbertTokenizer

    (tmp_path / "spiece.model").write_bytes(sample_spm.read_bytes())
    hf = AlbertTokenizer.from_pretrained(str(tmp_path))
    tok = load_tokenizer(sample_spm)
    text = "the mala steamboat was great, and the chicken rice too!"
    assert tok.encode_lines([text])[0] == hf(text, add_special_tokens=False)["input_ids"]


def test_digit_comma_rule_splits_like_google(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(["it cost 1, 2, or 3, dollars at 10, 20, 30,"] * 200 + ["other words here"] * 50))
    model, _ = train_sentencepiece([str(corpus)], str(tmp_path / "m"), vocab_size=36)
    tok = load_tokenizer(model)
    pieces = [tok.vocab[i] for i in tok.encode_lines(["at 10, 20, dollars"])[0]]
    assert not any(p.endswith(",") and len(p) > 1 and p[-2].isdigit() for p in pieces)
    assert "".join(pieces).replace("\u2581", " ").strip() == "at 10, 20, dollars"


def test_wordpiece_vocab_txt_of_the_seed(shared_data):
    tok = load_tokenizer(shared_data / "seed_toy" / "vocab.txt", do_lower_case=False)
    assert tok.kind == "wordpiece" and tok.vocab_size == 159
    assert (tok.cls_id, tok.sep_id, tok.mask_id) == (3, 4, 5)
    ids = tok.encode_lines(["I like the mala steamboat"])[0]
    assert [tok.vocab[i] for i in ids] == ["I", "like", "the", "mala", "steamboat"]
    assert not tok.is_start_piece[tok.vocab.index("##s")] and tok.is_start_piece[tok.vocab.index("rice")]


def test_train_sentencepiece_uses_albert_ids_and_lower_cases(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("The Chicken Rice is GREAT.\nMala Steamboat, spicy!\n" * 50, encoding="utf-8")
    model, vocab = train_sentencepiece([str(corpus)], str(tmp_path / "out" / "spm"), vocab_size=36)
    sp = spm.SentencePieceProcessor(model_file=model)
    assert [sp.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert not any(c.isupper() for i in range(5, sp.get_piece_size()) for c in sp.id_to_piece(i))
    assert len(open(vocab, encoding="utf-8").read().splitlines()) == 36
    assert not list((tmp_path / "out").glob("*.tmp-*"))


def test_tokenizer_errors(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_tokenizer(tmp_path / "nope.model")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
    with pytest.raises(UserInputError, match=r"lacks the special token\(s\) \[MASK\]"):
        load_tokenizer(vocab)
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\x00\x01not a model")
    with pytest.raises(UserInputError, match="not a readable SentencePiece model"):
        load_tokenizer(bad)


def test_offsets_point_at_each_piece_in_the_original_text(sample_spm):
    tok = load_tokenizer(sample_spm)
    lines = [line for line in (SAMPLE / "reviews.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and line.isascii()][:400]
    lines.append("It cost  $10, or 20, dollars (Tax incl.)")
    for line in lines:
        ids, offsets = tok.encode_with_offsets(line)
        assert ids == tok.encode_lines([line])[0]  # the same ids pretraining saw
        for i, (start, end) in zip(ids, offsets):
            piece = tok.vocab[i].lstrip("\u2581")
            if piece and i != 1:  # <unk> has no surface form to compare
                assert line[start:end].lower() == piece, (line, piece, line[start:end])


def test_tokenizer_from_state_encodes_the_same_and_leaves_no_temporary_files(sample_spm, tmp_path, monkeypatch):
    import tempfile

    from datamodules.text.tokenizer_state import tokenizer_from_state, tokenizer_state

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the copy goes here, so we can see what stays
    state = tokenizer_state(str(sample_spm), do_lower_case=True)
    restored = tokenizer_from_state(state)
    text = "the mala steamboat was great, and the chicken rice too!"
    assert restored.encode_lines([text]) == load_tokenizer(sample_spm).encode_lines([text])
    assert list(tmp_path.iterdir()) == [] and "stored in the checkpoint" in restored.path
