#!/usr/bin/env python
"""Export a fine-tuned tagger for ONNX Runtime: predict.py --model DIR then runs it with --backend onnx.

DIR holds the tagger's HF save_pretrained files (config with id2label, safetensors, tokenizer),
tagger.json (windows, export details, the self-check) and model.onnx (dynamic batch and sequence
axes, fused by onnxruntime's transformer optimizer; int8 weights with --quantize int8). The export
checks itself against PyTorch on --check-input (a review,dish_name CSV or BIO file; default: a few
built-in reviews): fp32 logits must agree to 1e-4; for int8 it reports how many reviews' spans change
and, for a labelled file, the span F1 change.

  python scripts/export_onnx.py --model runs/finetune/checkpoints/best.ckpt --output runs/tagger-onnx
  python scripts/export_onnx.py --model runs/finetune/checkpoints/best.ckpt --output runs/tagger-int8 \\
      --quantize int8 --check-input ../shared/data/nyt_dish/val.csv
"""
import argparse
import json
import sys

from datamodules.common.errors import exit_code_on_user_error
from datamodules.common.script_flags import ScriptArgumentParser
from lightning_modules.quiet_output import quiet_library_output


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="fine-tuned .ckpt of scripts/finetune.py, or a HF tagger directory")
    p.add_argument("--output", required=True, help="directory to write")
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 quantization (default: fp32)")
    p.add_argument("--check-input", help="reviews to check the export on: review,dish_name CSV or BIO file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output directory")
    args = p.parse_args(argv)
    quiet_library_output()
    import transformers

    from lightning_modules.inference.onnx_export import export_onnx  # after argument checks: torch import is slow

    transformers.utils.logging.disable_progress_bar()  # "Loading weights" / "Writing model shards" bars

    export = export_onnx(args.model, args.output, args.quantize, args.check_input, args.overwrite)
    check = export["check"]
    print(f"wrote {args.output} ({export['precision']}, {export['onnx_mb']} MB model.onnx; fused: "
          f"{json.dumps(export['fused_operators'])}); check on {check['reviews']} reviews: max |logit difference| "
          f"{check['max_abs_logit_difference']:.2e}, {check['reviews_with_changed_spans']} with changed spans"
          + (f", span F1 {check['span_f1_torch']:.4f} -> {check['span_f1_onnx']:.4f}"
             if "span_f1_onnx" in check else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
