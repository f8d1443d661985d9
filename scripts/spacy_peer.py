#!/usr/bin/env python
"""The peer baseline: spaCy's NER trained from scratch on the same BIO files, its test predictions in
predict.py's JSONL, so scripts/score_spans.py scores it exactly as it scores our taggers.

  make peer-spacy        # installs requirements-peer.lock, runs this on menu_ner, scores both taggers
  python scripts/spacy_peer.py --train train.bio --dev valid.bio --test test.bio --output runs/peer-spacy

spaCy is an optional extra (requirements-peer.lock, setup.cfg's `peer`); nothing in the package imports
it. Steps: the BIO files become spaCy DocBins with the files' own tokens (texts are the tokens joined by
single spaces, as our reader makes them); `spacy init config --lang en --pipeline ner --optimize
efficiency` (a CNN on hashed word features, no pretrained vectors); `spacy train` with its default
schedule and --seed; the best model on --dev tags the test texts, each given as its gold tokens, and
the spans go to <output>/predictions.jsonl (character offsets into the same text, score null: spaCy's
NER gives none). <output>/summary.json holds the training wall time and versions.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.files import atomic_write_bytes
from datamodules.common.script_flags import ScriptArgumentParser
from datamodules.tagging.span_labels import TextExample, read_bio_examples


def words_and_spans(example: TextExample) -> tuple[list[str], list[tuple[int, int, str]]]:
    """The example's tokens (its text is them joined by single spaces) and its spans as character offsets."""
    return example.text.split(" "), [(s.start, s.end, s.type) for s in example.spans]


def prediction_record(text: str, spans: list[tuple[int, int, str]]) -> dict:
    """predict.py's JSON object for one text of a one-type tagger ("dishes": spans without types)."""
    return {"text": text,
            "dishes": [{"text": text[start:end], "start": start, "end": end, "score": None} for start, end, _ in spans]}


def to_docbin(nlp, path: str, output: str) -> int:
    from spacy.tokens import Doc, DocBin

    examples = read_bio_examples(path)
    docs = DocBin()
    for example in examples:
        words, spans = words_and_spans(example)
        doc = Doc(nlp.vocab, words=words)
        doc.ents = [doc.char_span(start, end, label=kind) for start, end, kind in spans]
        docs.add(doc)
    docs.to_disk(output)
    return len(examples)


def spacy_command(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "spacy", *args], capture_output=True, text=True)
    if result.returncode:
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["?"]
        raise UserInputError(f"spacy {args[0]} failed: {tail[0]}")


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("train", "dev", "test"):
        p.add_argument(f"--{name}", required=True, help=f"{name} split, token<TAB>label BIO")
    p.add_argument("--output", default="runs/peer-spacy", help="folder for the model, predictions and summary")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    try:
        import spacy
    except ImportError:
        raise UserInputError("spaCy is not installed: make peer-spacy installs requirements-peer.lock") from None
    for name in ("train", "dev", "test"):
        if not os.path.isfile(getattr(args, name)):
            raise UserInputError(f"--{name} {getattr(args, name)} does not exist")
    os.makedirs(args.output, exist_ok=True)
    out = lambda name: os.path.join(args.output, name)  # noqa: E731
    blank = spacy.blank("en")
    sizes = {name: to_docbin(blank, getattr(args, name), out(f"{name}.spacy")) for name in ("train", "dev")}
    spacy_command("init", "config", out("config.cfg"), "--lang", "en", "--pipeline", "ner", "--optimize",
                  "efficiency", "--force")
    start = time.perf_counter()
    spacy_command("train", out("config.cfg"), "--output", out("model"), "--paths.train", out("train.spacy"),
                  "--paths.dev", out("dev.spacy"), "--system.seed", str(args.seed))
    train_seconds = time.perf_counter() - start

    nlp = spacy.load(out("model/model-best"))
    lines = []
    examples = read_bio_examples(args.test)
    for example in examples:
        doc = spacy.tokens.Doc(nlp.vocab, words=words_and_spans(example)[0])
        for _, component in nlp.pipeline:
            doc = component(doc)
        spans = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        lines.append(json.dumps(prediction_record(example.text, spans)) + "\n")
    atomic_write_bytes(out("predictions.jsonl"), "".join(lines).encode("utf-8"))
    import torch

    summary = {"peer": "spaCy NER from scratch (init config --optimize efficiency)", "spacy": spacy.__version__,
               "seed": args.seed, "train_texts": sizes["train"], "dev_texts": sizes["dev"], "test_texts": len(examples),
               "train_seconds": train_seconds, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "cpu_count": os.cpu_count(), "machine": platform.machine()}
    atomic_write_bytes(out("summary.json"), (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
