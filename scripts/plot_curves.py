#!/usr/bin/env python
"""Plot the TensorBoard scalars of one or more runs into a PNG (loss, accuracies, F1, learning rate).

  python scripts/plot_curves.py --logdir runs/demo/pretrain --output runs/demo/curves.png
  python scripts/plot_curves.py --logdir pretrain=runs/demo/pretrain finetune=runs/demo/finetune --output curves.png
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from datamodules.common.script_flags import ScriptArgumentParser  # noqa: E402
from lightning_modules.reporting.tensorboard_scalars import read_scalars  # noqa: E402

DEFAULT_TAGS = ["train/loss", "val/loss", "val/mlm_accuracy", "val/mlm_replaced_accuracy", "val/sop_accuracy", "val/f1",
                "val/token_accuracy"]


def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", required=True, nargs="+",
                   help="folder(s) holding TensorBoard event files (searched recursively), optionally NAME=FOLDER")
    p.add_argument("--output", required=True, help="PNG to write")
    p.add_argument("--tags", nargs="+", default=DEFAULT_TAGS, help="scalar tags to plot, where present")
    args = p.parse_args(argv)
    panels = []  # (title, points)
    for item in args.logdir:
        name, _, folder = item.rpartition("=")
        scalars = read_scalars(Path(folder))
        panels += [(f"{name}: {t}" if name else t, scalars[t]) for t in args.tags if t in scalars]
    if not panels:
        print(f"error: no TensorBoard scalars {args.tags} under {' '.join(args.logdir)}", file=sys.stderr)
        return 2
    columns = min(len(panels), 4)
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (title, points) in zip(axes.flat, panels):
        steps, values = zip(*points)
        ax.plot(steps, values, marker="." if len(steps) < 30 else None)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{args.output}.tmp.png"
    fig.savefig(tmp, dpi=90)
    Path(tmp).replace(args.output)
    print(f"wrote {args.output} ({', '.join(title for title, _ in panels)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
