"""The benchmarks behind scripts/benchmark.py, one module each: ``SUMMARY`` (its one-line help),
``add_arguments(parser)`` and ``run(args) -> dict`` (the JSON report). Libraries a benchmark alone needs
(transformers, Lightning, ONNX) are imported inside its ``run``, so that ``--help`` and every other
benchmark start without them."""
