#!/usr/bin/env python
"""Export a pretraining or fine-tuning checkpoint to a HuggingFace save_pretrained directory.

  python scripts/export_hf.py --model runs/finetune/checkpoints/best.ckpt --output runs/export/dish-tagger
Then, offline: AutoTokenizer.from_pretrained(DIR) and AutoModelForTokenClassification.from_pretrained(DIR)
(or AlbertForPreTraining for a pretraining checkpoint). --model.init_from DIR takes it back in.
"""
import argparse
import sys

from datamodules.common.errors import exit_code_on_user_error
from datamodules.common.script_flags import ScriptArgumentParser
from lightning_modules.quiet_output import quiet_library_output


@exit_code_on_user_error
def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                             old_names={"--ckpt": "--model"})
    p.add_argument("--model", required=True, help="checkpoint from scripts/pretrain.py or scripts/finetune.py")
    p.add_argument("--output", required=True, help="directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing directory")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="how the weights are stored (float16 halves the directory; --model.init_from and "
                        "predict.py read them back as float32)")
    args = p.parse_args(argv)
    quiet_library_output()
    import torch

    from lightning_modules.inference.hf_export import export_checkpoint

    contents = export_checkpoint(args.model, args.output, args.overwrite, getattr(torch, args.dtype))
    print(f"wrote {args.output} ({contents})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
