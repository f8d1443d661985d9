#!/usr/bin/env python
"""Plot the TensorBoard scalars of one or more runs into a PNG (loss, accuracies, learning rate).

  python scripts/plot_curves.py --logdir runs/demo --output runs/demo/curves.png
"""
import argparse
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

DEFAULT_TAGS = ["train/loss", "val/loss", "val/mlm_accuracy", "val/sop_accuracy", "lr-Lamb/pg1",
                "train/sequences_per_s"]


def read_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] over every event file under logdir (a resumed run adds files)."""
    series = defaultdict(dict)
    for events in sorted(logdir.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for e in acc.Scalars(tag):
                series[tag][e.step] = e.value
    return {tag: sorted(points.items()) for tag, points in series.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", required=True, help="folder holding TensorBoard event files (searched recursively)")
    p.add_argument("--output", required=True, help="PNG to write")
    p.add_argument("--tags", nargs="+", default=DEFAULT_TAGS, help="scalar tags to plot, where present")
    args = p.parse_args(argv)
    scalars = read_scalars(Path(args.logdir))
    tags = [t for t in args.tags if t in scalars]
    if not tags:
        print(f"error: no TensorBoard scalars {args.tags} under {args.logdir}", file=sys.stderr)
        return 2
    fig, axes = plt.subplots(1, len(tags), figsize=(3.6 * len(tags), 3.0), squeeze=False)
    for ax, tag in zip(axes[0], tags):
        steps, values = zip(*scalars[tag])
        ax.plot(steps, values, marker="." if len(steps) < 30 else None)
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{args.output}.tmp.png"
    fig.savefig(tmp, dpi=90)
    Path(tmp).replace(args.output)
    print(f"wrote {args.output} ({', '.join(tags)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
