"""scripts/serve.py under load: start it on loopback, drive it with concurrent clients, stop it with SIGTERM.

Used by ``benchmark.py serve`` and the service tests. Every good request carries different texts and
its answer must echo them in order, so an answer delivered to the wrong client, lost or doubled shows
up as an error; a malformed request must get a 4xx.
"""
import contextlib
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from lightning_modules.reporting.measurements import percentiles_ms

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "serve.py")
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 30.0,
            connection: http.client.HTTPConnection | None = None) -> tuple[int, object]:
    """(status, JSON answer or text) of one HTTP request to the local server."""
    conn = connection or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read().decode("utf-8")
    finally:
        if connection is None:
            conn.close()
    try:
        return response.status, json.loads(data)
    except json.JSONDecodeError:
        return response.status, data


@dataclass
class RunningServer:
    process: subprocess.Popen
    port: int
    log_path: str
    startup_s: float = 0.0

    def stop(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGTERM, then wait: (exit code, seconds to exit). Killed with its process group after ``timeout``."""
        start = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        return code, time.perf_counter() - start

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


@contextlib.contextmanager
def running_server(model: str, log_path: str, *options: str, startup_timeout: float = 180.0):
    """scripts/serve.py on 127.0.0.1 at a free port, up once /health answers; always stopped on exit."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, SCRIPT, "--model", model, "--host", HOST, "--port", str(port),
                                    *options], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(process, port, log_path)
    start = time.perf_counter()
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve.py exited with {process.returncode} at start-up:\n{server.log()[-3000:]}")
            if time.perf_counter() - start > startup_timeout:
                raise RuntimeError(f"serve.py not healthy after {startup_timeout:.0f} s:\n{server.log()[-3000:]}")
            with contextlib.suppress(OSError):
                if request(port, "GET", "/health", timeout=2)[0] == 200:
                    break
            time.sleep(0.25)
        server.startup_s = time.perf_counter() - start
        yield server
    finally:
        server.stop()


def malformed_requests(max_texts: int, max_text_chars: int) -> list[tuple[str, bytes]]:
    """(kind, body) of each bad request the service must answer with a 4xx."""
    return [("not JSON", b"{texts: nope"), ("missing field", b"{}"), ("unknown field", b'{"txt": "a"}'),
            ("non-string", b'{"texts": ["fine", 3]}'), ("empty list", b'{"texts": []}'),
            ("text too long", json.dumps({"text": "x" * (max_text_chars + 1)}).encode()),
            ("too many texts", json.dumps({"texts": ["a"] * (max_texts + 1)}).encode()),
            ("text and texts", b'{"text": "a", "texts": ["b"]}')]


@dataclass
class LoadResult:
    seconds: float = 0.0
    good_requests: int = 0
    good_texts: int = 0
    bad_requests: int = 0
    bad_answered_4xx: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        return {"seconds": self.seconds, "requests": self.good_requests + self.bad_requests,
                "good_requests": self.good_requests, "reviews_per_s": self.good_texts / self.seconds,
                "latency_ms": percentiles_ms(self.latencies_s) if self.latencies_s else None,
                "malformed_requests": self.bad_requests, "malformed_answered_4xx": self.bad_answered_4xx,
                "errors": len(self.errors), "first_errors": self.errors[:5]}


def load_test(port: int, texts: list[str], clients: int = 16, seconds: float = 30.0, max_requests: int = 100_000,
              texts_per_request: int = 1, malformed_every: int = 0, max_texts: int = 256,
              max_text_chars: int = 20_000) -> LoadResult:
    """``clients`` threads, each with its own keep-alive connection, sending requests back to back for
    ``seconds`` (or until ``max_requests``); with ``malformed_every`` = k, every k-th request is malformed."""
    result, lock = LoadResult(), threading.Lock()
    counter = itertools.count()
    bad = malformed_requests(max_texts, max_text_chars)
    deadline = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        while time.perf_counter() < deadline:
            n = next(counter)
            if n >= max_requests:
                break
            if malformed_every and n % malformed_every == malformed_every - 1:
                kind, body = bad[(n // malformed_every) % len(bad)]
                status = request(port, "POST", "/predict", body, connection=conn)[0]
                with lock:
                    result.bad_requests += 1
                    if 400 <= status < 500:
                        result.bad_answered_4xx += 1
                    else:
                        result.errors.append(f"malformed ({kind}) answered {status}")
                if status >= 400:  # the server may close the connection after an error
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=60)
                continue
            sent = [texts[(n * texts_per_request + i) % len(texts)] for i in range(texts_per_request)]
            start = time.perf_counter()
            try:
                status, answer = request(port, "POST", "/predict", json.dumps({"texts": sent}).encode(),
                                         connection=conn)
            except (OSError, http.client.HTTPException) as e:
                status, answer = None, repr(e)
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            elapsed = time.perf_counter() - start
            ok = status == 200 and [p["text"] for p in answer["predictions"]] == sent
            with lock:
                if ok:
                    result.good_requests += 1
                    result.good_texts += len(sent)
                    result.latencies_s.append(elapsed)
                else:
                    result.errors.append(f"request {n}: status {status}: {str(answer)[:200]}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result
