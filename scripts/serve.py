#!/usr/bin/env python
"""Serve a dish tagger over HTTP (LitServe): POST /predict, GET /health.

  python scripts/serve.py --model runs/tagger-onnx --port 8000
  curl -s localhost:8000/predict -d '{"text": "the laksa and roti canai were great"}'
  curl -s localhost:8000/predict -d '{"texts": ["great chicken rice", "slow service"]}'

Answers are predict.py's objects: {"text", "dishes": [{"text", "start", "end", "score"}]} for "text",
{"predictions": [...]} for "texts". --response-format hf-pipeline answers as transformers'
token-classification pipeline does (a list of {"entity_group", "score", "word", "start", "end"} per
text). Requests from different clients are run in one model batch (--max-batch-size requests, waiting
at most --batch-timeout seconds to fill it). A bad request gets a 422 JSON error and never reaches the
model. SIGTERM stops taking requests (503), lets those in flight finish, then exits (Ctrl+C: at once).
"""
import argparse
import os
import signal
import socket
import sys
import time

from datamodules.common.errors import UserInputError, exit_code_on_user_error
from datamodules.common.script_flags import ScriptArgumentParser
from lightning_modules.quiet_output import quiet_library_output

DRAIN_SETTLE_S = 1.0  # after SIGTERM, refuse (503) for at least this long before exiting on 0 requests in flight


def parse_args(argv):
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="fine-tuned .ckpt, or a directory of export_hf.py / export_onnx.py")
    p.add_argument("--backend", choices=["torch", "onnx"],
                   help="what runs the model (default: onnx for a directory with model.onnx, else torch)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "0.0.0.0", "::"],
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--response-format", default="dishes", choices=["dishes", "hf-pipeline"])
    p.add_argument("--max-batch-size", type=int, default=16, help="requests run together in one model call")
    p.add_argument("--batch-timeout", type=float, default=0.005,
                   help="seconds the model waits for more requests to fill a batch (default: 0.005)")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (as predict.py)")
    p.add_argument("--workers", type=int, default=2,
                   help="model processes, each with cpu_count/workers threads: while one tokenizes and decodes "
                        "(Python, one core) another runs its model (default: 2)")
    p.add_argument("--max-texts", type=int, default=256, help="most texts in one request")
    p.add_argument("--max-text-chars", type=int, default=20_000, help="most characters in one text")
    p.add_argument("--request-timeout", type=float, default=30.0, help="seconds before a queued request gets 504")
    p.add_argument("--drain-timeout", type=float, default=30.0,
                   help="on SIGTERM, seconds to wait for requests in flight before exiting")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    args = p.parse_args(argv)
    quiet_library_output()
    for name in ("max_batch_size", "batch_size", "max_texts", "max_text_chars", "workers"):
        if getattr(args, name) < 1:
            raise UserInputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 1024 <= args.port <= 65535:
        raise UserInputError(f"--port must be 1024-65535, got {args.port}")
    if not 0 <= args.batch_timeout < args.request_timeout:
        raise UserInputError(f"--batch-timeout must be >= 0 and below --request-timeout, got {args.batch_timeout}")
    return args


def refuse_busy_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UserInputError(f"--port {port}: cannot listen on {host} ({e.strerror})") from None


@exit_code_on_user_error
def main(argv=None) -> int:
    args = parse_args(argv)
    if not os.path.exists(args.model):
        raise UserInputError(f"--model {args.model} does not exist")
    refuse_busy_port(args.host, args.port)  # before the model loads: uvicorn would fail only after start-up
    import multiprocessing

    import litserve as ls

    from lightning_modules.inference.dish_service import DishTaggerAPI, PredictRequest, RefuseWhileDraining
    from lightning_modules.inference.tagger_backends import load_tagger

    load_tagger(args.model, args.backend, args.device)  # a bad model fails here in one line, not in a worker
    PredictRequest.max_texts, PredictRequest.max_text_chars = args.max_texts, args.max_text_chars
    api = DishTaggerAPI(args.model, args.backend, args.device, args.response_format, args.batch_size,
                        args.max_batch_size, args.batch_timeout, max(1, (os.cpu_count() or 1) // args.workers))
    draining = multiprocessing.Event()
    server = ls.LitServer(api, accelerator="cpu" if args.device == "cpu" else "auto", workers_per_device=args.workers,
                          timeout=args.request_timeout,
                          track_requests=True, fast_queue=True,
                          middlewares=[(RefuseWhileDraining, {"draining": draining})])

    main_pid = os.getpid()

    def drain_then_stop(signum, frame):
        if os.getpid() != main_pid:  # an HTTP process forked from this one, stopped gracefully by uvicorn
            raise SystemExit(0)
        draining.set()
        now = time.monotonic()
        deadline = now + args.drain_timeout
        # A request sent just before the signal may not be counted yet (its HTTP process has not read it):
        # exiting at once on a count of 0 would reset its connection; a moment later it gets a 503 instead.
        settled = now + min(DRAIN_SETTLE_S, args.drain_timeout)
        while (server.active_requests or time.monotonic() < settled) and time.monotonic() < deadline:
            time.sleep(0.02)
        raise KeyboardInterrupt  # LitServe's own graceful shutdown of its HTTP and model processes

    signal.signal(signal.SIGTERM, drain_then_stop)
    print(f"serving {args.model} on http://{args.host}:{args.port}/predict", file=sys.stderr, flush=True)
    server.run(host=args.host, port=args.port, num_api_servers=1, log_level=args.log_level,
               generate_client_file=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
