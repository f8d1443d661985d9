#!/usr/bin/env python
"""Score a tagger's predictions (predict.py's JSONL) against a labelled CSV/BIO file: exact-span P/R/F1.

The same scorer for any tagger that writes predict.py's format (scripts/spacy_peer.py does), so taggers
are compared by the same code. First write the labelled file's texts, one per line, and tag them:

  python scripts/score_spans.py --gold test.bio --write-texts runs/test_texts.txt
  python scripts/predict.py --model models/dish-tagger-small --input runs/test_texts.txt --output runs/ours.jsonl
  python scripts/score_spans.py --gold test.bio --predictions runs/ours.jsonl --label-map '{"MENU": "Dish"}'

A predicted span counts when its start, end and type equal a gold span's; predictions without types
("dishes") are compared with the gold spans of every type. --label-map renames gold types (as
finetune.py's --data.label_map), which matters only for predictions with types ("entities").
"""
import argparse
import json

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.files import atomic_write_bytes
from datamodules.common.script_flags import ScriptArgumentParser
from datamodules.tagging.span_labels import read_examples
from datamodules.tagging.span_scoring import read_predictions, score_predictions


def label_map_flag(value: str) -> dict:
    try:
        mapping = json.loads(value)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"MENU\": \"Dish\"}}', got {value!r}")
    return mapping


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gold", required=True, help="labelled file: review,dish_name CSV or token<TAB>label BIO")
    p.add_argument("--predictions", help="predict.py-format JSONL, a line per labelled text, in their order")
    p.add_argument("--write-texts", help="write the labelled texts here, one per line (predict.py's --input)")
    p.add_argument("--label-map", type=label_map_flag, default=None, help="rename gold types, JSON")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    args = p.parse_args(argv)
    if not args.predictions and not args.write_texts:
        raise UserInputError("give --predictions (to score) or --write-texts (to make predict.py's input)")
    gold = read_examples(args.gold, label_map=args.label_map)
    if args.write_texts:
        atomic_write_bytes(args.write_texts, "".join(f"{e.text}\n" for e in gold).encode("utf-8"))
        print(f"wrote {len(gold)} texts to {args.write_texts}")
    if args.predictions:
        scores = score_predictions(gold, read_predictions(args.predictions), args.predictions)
        if args.json:
            print(json.dumps({"gold": args.gold, "predictions": args.predictions, **scores.as_dict()}))
        else:
            print(f"precision {scores.precision:.4f} recall {scores.recall:.4f} f1 {scores.f1:.4f} "
                  f"({scores.true_positives} of {scores.true_positives + scores.false_negatives} gold spans found, "
                  f"{scores.false_positives} wrong)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
