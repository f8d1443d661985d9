"""Review corpora (one per line, CSV, JSONL) as input to build_vocab and create_pretraining_data.

Everything here runs on tiny files made in tmp_path, with a WordPiece vocab.txt built on the spot,
so no test needs ../shared.
"""
import csv
import json

import pytest

from conftest import assert_one_line_error, run_script
from datamodules.common.errors import UserInputError
from datamodules.pretraining.datamodule import PretrainingRecords
from datamodules.text.corpus_formats import Corpus, CorpusFile, expand_corpus_files

LONG = "The soup is hot. " * 12000  # 204 KB: over the csv module's default field limit
REVIEWS = [
    "Great tacos.",
    "The pho was rich. Service was quick! Will return.",
    "",
    "The  pho was rich.   Service was quick! Will return. ",  # a duplicate once whitespace is collapsed
    "   ",
    LONG,
]


def write(path, fmt, reviews, column="review", bom=False):
    """``reviews`` in one of the review formats; returns the path."""
    if fmt == "lines":
        text = "".join(f"{r}\n" for r in reviews)
    elif fmt == "jsonl":
        text = "".join(json.dumps({"id": i, column: r}) + "\n" for i, r in enumerate(reviews))
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL)
            writer.writerow(["id", column])
            writer.writerows([i, r] for i, r in enumerate(reviews))
        text = path.read_text(encoding="utf-8")
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def read(path, fmt, column="review"):
    corpus = Corpus([CorpusFile(str(path), fmt)], column)
    return list(corpus.documents()), corpus.counts


@pytest.mark.parametrize("fmt", ["lines", "csv", "jsonl"])
def test_each_review_format_gives_the_same_documents_and_counts(tmp_path, fmt):
    path = write(tmp_path / f"reviews.{fmt}", fmt, REVIEWS, bom=True)
    documents, counts = read(path, fmt)
    assert documents[0] == ["Great tacos."]  # a one-sentence review, the BOM dropped
    assert documents[1] == ["The pho was rich.", "Service was quick!", "Will return."]
    assert len(documents[2]) == 12000 and documents[2][-1] == "The soup is hot."  # a very long line
    assert (counts.documents, counts.sentences, counts.duplicates, counts.empty) == (3, 12004, 1, 2)
    assert counts.line() == "3 documents, 12004 sentences (1 duplicate documents dropped, 2 empty skipped)"


def test_csv_quoted_newlines_stay_in_one_review_and_split_sentences(tmp_path):
    path = write(tmp_path / "r.csv", "csv", ["Loved it\nthe naan was soft. Tea too.\r\nBye", "Next one."],
                 column="text")
    documents, _ = read(path, "csv", column="text")
    assert documents == [["Loved it", "the naan was soft.", "Tea too.", "Bye"], ["Next one."]]


def test_jsonl_null_and_blank_lines_are_empty(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"review": "Good."}\n\n{"review": null}\n{"review": "Good."}\n')
    documents, counts = read(path, "jsonl")
    assert documents == [["Good."]] and (counts.empty, counts.duplicates) == (2, 1)


def test_sentences_format_is_albert_s_and_drops_nothing(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfOne.\r\nTwo.\r\n \r\nThree.\n\n\nOne.\nTwo.\n")
    (tmp_path / "b.txt").write_text("Four.\n")  # a file boundary ends a document
    files = expand_corpus_files(str(tmp_path / "*.txt"), "sentences", "--input")
    corpus = Corpus(files)
    assert list(corpus.documents()) == [["One.", "Two."], ["Three."], ["One.", "Two."], ["Four."]]
    assert (corpus.counts.documents, corpus.counts.duplicates) == (4, 0)


def test_format_prefix_per_glob(tmp_path):
    for name in ("a.txt", "b.txt", "c.csv"):
        (tmp_path / name).write_text("x\n")
    files = expand_corpus_files([f"{tmp_path}/a.txt,lines:{tmp_path}/b.txt", f"csv:{tmp_path}/*.csv"], "sentences",
                                "--input")
    assert [(f.path.split("/")[-1], f.format) for f in files] == [("a.txt", "sentences"), ("b.txt", "lines"),
                                                                   ("c.csv", "csv")]
    with pytest.raises(UserInputError, match="a.txt is given both as sentences and as lines"):
        expand_corpus_files([str(tmp_path / "a.txt"), f"lines:{tmp_path}/a.txt"], "sentences", "--input")


@pytest.mark.parametrize("fmt, content, fragments", [
    ("csv", "id,text\n1,Good\n", ["r.csv", "no 'review' column", "found: 'id', 'text'"]),
    ("csv", "", ["r.csv", "empty CSV file"]),
    ("csv", 'id,review\n1,"Good"\n2\n', ["r.csv", "row 2 (line 3)", "1 field(s)", "no 'review' value"]),
    ("jsonl", '{"review": "Good"}\n{"review": "Bad",}\n', ["r.jsonl", "line 2", "invalid JSON"]),
    ("jsonl", '["Good"]\n', ["r.jsonl", "line 1", "expected a JSON object", "got an array"]),
    ("jsonl", '{"text": "Good"}\n', ["r.jsonl", "line 1", "no 'review' field", "found: 'text'"]),
    ("jsonl", '{"review": 5}\n', ["r.jsonl", "line 1", "field 'review' is a number, expected a string"]),
    ("jsonl", '{"review": "a\\ud800"}\n', ["r.jsonl", "line 1", "lone surrogate"]),
    ("lines", b"Good.\nBad \xff byte.\n", ["r.lines", "line 2", "not UTF-8 text (byte 10 of the file)"]),
])
def test_bad_input_names_file_line_and_field(tmp_path, fmt, content, fragments):
    path = tmp_path / f"r.{fmt}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UserInputError) as error:
        read(path, fmt)
    message = str(error.value)
    assert "\n" not in message and all(f in message for f in fragments), message


def word(review: int, sentence: int) -> str:
    return f"r{review}s{sentence}"


@pytest.fixture
def mixed_corpus(tmp_path):
    """Review i has sentences "r{i}s{j} ... ." whose words occur nowhere else; four files, four formats."""
    sentences = [[f"{word(i, j).capitalize()} {word(i, j)} {word(i, j)}." for j in range(1 + i % 4)] for i in range(24)]
    reviews = [" ".join(r) for r in sentences]
    (tmp_path / "sent.txt").write_text("\n\n".join("\n".join(r) for r in sentences[:6]) + "\n")
    write(tmp_path / "r.txt", "lines", reviews[6:12] + ["", reviews[6]])
    write(tmp_path / "r.csv", "csv", reviews[12:18] + [reviews[12]])
    write(tmp_path / "r.jsonl", "jsonl", reviews[18:] + [" "])
    words = sorted({w.lower().rstrip(".") for r in reviews for w in r.split()})
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."] + words) + "\n")
    inputs = [str(tmp_path / "sent.txt"), f"lines:{tmp_path / 'r.txt'}", f"csv:{tmp_path / 'r.csv'}",
              f"jsonl:{tmp_path / 'r.jsonl'}"]
    return tmp_path, inputs, len(reviews), sum(map(len, sentences))


def test_mixed_formats_in_one_run_keep_every_review_and_never_mix_two(mixed_corpus):
    tmp_path, inputs, n_reviews, n_sentences = mixed_corpus
    result = run_script("create_pretraining_data.py", "--input_file", ",".join(inputs),
                        "--output_file", str(tmp_path / "out.tfrecord"), "--vocab_file", str(tmp_path / "vocab.txt"),
                        "--max_seq_length", "16", "--dupe_factor", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (f"from {n_reviews} documents, {n_sentences} sentences (2 duplicate documents dropped, "
            "2 empty skipped;") in result.stdout

    vocab = (tmp_path / "vocab.txt").read_text().split("\n")
    records = PretrainingRecords(sorted(map(str, tmp_path.glob("out-*.tfrecord"))))  # a piece per input file
    seen = set()
    for i in range(len(records)):
        e = records.example(i)
        ids = e["input_ids"][:int(e["input_mask"].sum())].tolist()
        for position, original in zip(e["masked_lm_positions"], e["masked_lm_ids"]):
            if position:
                ids[position] = int(original)
        sep = ids.index(vocab.index("[SEP]"))
        segments = [ids[1:sep], ids[sep + 1:-1]]
        review_of = [{vocab[t].split("s")[0] for t in segment if vocab[t] != "."} for segment in segments]
        assert all(len(r) == 1 for r in review_of), [[vocab[t] for t in s] for s in segments]  # one review each
        if e["next_sentence_labels"][0] == 0:
            assert review_of[0] == review_of[1]  # in order: both from the same review
        seen |= review_of[0] | review_of[1]
    assert len(records) > n_reviews and seen == {f"r{i}" for i in range(n_reviews)}  # every document of every file


def test_build_vocab_trains_on_the_sentences_of_mixed_formats(mixed_corpus):
    tmp_path, inputs, n_reviews, n_sentences = mixed_corpus
    result = run_script("build_vocab.py", "--input", *inputs, "--model-prefix", str(tmp_path / "spm"),
                        "--vocab-size", "27")  # the most this corpus supports
    assert result.returncode == 0, result.stderr
    assert (f"read {n_reviews} documents, {n_sentences} sentences (2 duplicate documents dropped, 2 empty skipped)"
            in result.stdout)
    pieces = [line.split("\t")[0] for line in (tmp_path / "spm.vocab").read_text(encoding="utf-8").splitlines()]
    assert not {"{", "}", ":", ","} & set("".join(pieces))  # it saw the review texts, not the JSON and CSV syntax


def test_scripts_report_a_bad_review_file_in_one_line(tmp_path):
    bad_csv = write(tmp_path / "r.csv", "csv", ["Good food."], column="body")
    (tmp_path / "v.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\n")
    result = run_script("create_pretraining_data.py", "--input_file", str(bad_csv), "--input_format", "csv",
                        "--output_file", str(tmp_path / "out.tfrecord"), "--vocab_file", str(tmp_path / "v.txt"))
    assert_one_line_error(result, "r.csv", "no 'review' column", "found: 'id', 'body'")
    assert not list(tmp_path.glob("out*"))

    bad_jsonl = tmp_path / "r.jsonl"
    bad_jsonl.write_text('{"review": "Good food."}\n{"review": "Bad\n')
    result = run_script("build_vocab.py", "--input", f"jsonl:{bad_jsonl}", "--model-prefix", str(tmp_path / "spm"),
                        "--vocab-size", "20")
    assert_one_line_error(result, "r.jsonl", "line 2", "invalid JSON")
    assert not list(tmp_path.glob("spm*"))


def test_an_unknown_format_prefix_is_named_as_such(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(UserInputError, match=r"unknown format 'txt' in 'txt:.*a\.txt': expected one of "
                                             r"sentences, lines, csv, jsonl"):
        expand_corpus_files(f"txt:{tmp_path}/a.txt", "sentences", "--input")
    with pytest.raises(UserInputError, match="matches no file"):  # a drive letter is no format
        expand_corpus_files(f"C:{tmp_path}/a.txt", "sentences", "--input")
    (tmp_path / "notes:a.txt").write_text("x\n")  # a file whose name holds a colon is still read
    monkeypatch.chdir(tmp_path)
    assert [(f.path, f.format) for f in expand_corpus_files("notes:a.txt", "lines", "--input")] == [
        ("notes:a.txt", "lines")]
