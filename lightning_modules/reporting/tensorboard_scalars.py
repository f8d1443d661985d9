"""Scalars a run logged to TensorBoard, read back for plots (scripts/plot_curves.py)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] over every event file under logdir (a resumed run adds files)."""
    series = defaultdict(dict)
    for events in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for e in acc.Scalars(tag):
                series[tag][e.step] = e.value
    return {tag: sorted(points.items()) for tag, points in series.items()}
