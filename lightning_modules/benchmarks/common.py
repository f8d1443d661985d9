"""What several benchmarks share: the tagger size flags, an untrained tagger, steps timed in turn."""
from __future__ import annotations

import argparse
import time


def add_model_size_arguments(parser: argparse.ArgumentParser) -> None:
    """The encoder sizes of the model a benchmark builds (default: the ``small`` config's)."""
    for name, default in [("embedding-size", 128), ("hidden-size", 256), ("num-layers", 4), ("num-heads", 4),
                          ("intermediate-size", 1024)]:
        parser.add_argument(f"--{name}", type=int, default=default)


def untrained_tagger(args, path: str) -> str:
    """A tagger checkpoint of the sizes in ``args`` with random weights: speed does not depend on the weights."""
    from datamodules.tagging.datamodule import TextEncoding
    from datamodules.text.tokenizer_state import tokenizer_state
    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
    from lightning_modules.checkpoints import save_module_checkpoint

    state = tokenizer_state(args.tokenizer, True)
    fields = dict(vocab_size=state["vocab_size"], embedding_size=args.embedding_size, hidden_size=args.hidden_size,
                  num_hidden_layers=args.num_layers, num_attention_heads=args.num_heads,
                  intermediate_size=args.intermediate_size, max_position_embeddings=512, hidden_act="gelu_new")
    module = AlbertTokenClassifierModule(label_names=["O", "B-Dish", "I-Dish"], albert_config=fields)
    module.text_encoding = TextEncoding(state, max_seq_length=128, window_overlap=32)
    return save_module_checkpoint(module, path)


def timed_steps(sides, warmup: int) -> list[tuple[list[float], list]]:
    """Run ``(step, batches)`` sides in turn, one step each, so load on a shared machine hits all alike.
    Per side: the step times after ``warmup`` steps, and every step's loss."""
    results = [([], []) for _ in sides]
    for k in range(len(sides[0][1])):
        for (step, batches), (times, losses) in zip(sides, results):
            start = time.perf_counter()
            losses.append(step(batches[k]))
            if k >= warmup:
                times.append(time.perf_counter() - start)
    return results
