"""scripts/serve.py on 127.0.0.1: answers like predict.py, batches concurrent clients, refuses bad requests
with a 4xx, health check, HF pipeline fields, and SIGTERM drains requests in flight."""
import http.client
import json
import signal
import socket
import time

import pytest

from conftest import SAMPLE, assert_one_line_error, run_script
from lightning_modules.inference.dish_service import DishTaggerAPI, PredictRequest
from lightning_modules.inference.service_load import load_test, malformed_requests, request, running_server
from lightning_modules.inference.span_predictor import SpanPredictor, dish_record

LIMITS = {"max_texts": 8, "max_text_chars": 600}
BATCH_TIMEOUT_S = 2.0  # long, so that requests are surely in flight when the SIGTERM test stops the server


@pytest.fixture(scope="module")
def reviews():
    lines = (SAMPLE / "reviews.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and len(line) <= LIMITS["max_text_chars"]][:40]


@pytest.fixture(scope="module")
def server(tagger_ckpt, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with running_server(str(tagger_ckpt), str(log), "--device", "cpu", "--max-batch-size", "8",
                        "--batch-timeout", str(BATCH_TIMEOUT_S),
                        "--max-texts", str(LIMITS["max_texts"]),
                        "--max-text-chars", str(LIMITS["max_text_chars"])) as s:
        yield s


def post(server, body) -> tuple[int, object]:
    return request(server.port, "POST", "/predict", json.dumps(body).encode())


def test_answers_are_predict_py_records(server, tagger_ckpt, reviews):
    assert request(server.port, "GET", "/health") == (200, "ok")
    predicted = SpanPredictor(str(tagger_ckpt), "cpu").predict(reviews[:5])
    expected = [dish_record(t, e) for t, e in zip(reviews[:5], predicted)]
    assert any(record["dishes"] for record in expected)  # the random tagger tags something: a real comparison
    assert post(server, {"texts": reviews[:5]}) == (200, {"predictions": expected})
    assert post(server, {"text": reviews[0]}) == (200, expected[0])


@pytest.mark.parametrize("kind,body", malformed_requests(**LIMITS))
def test_bad_request_gets_a_4xx_json_error(server, kind, body):
    status, answer = request(server.port, "POST", "/predict", body)
    assert status == 422 and isinstance(answer, dict) and answer["detail"], (kind, status, answer)
    assert request(server.port, "GET", "/health") == (200, "ok")


def test_concurrent_clients_each_get_their_own_answer(server, reviews):
    # Bounded by count; the time bound is only a backstop (a loaded machine answered 119 of 120 in 20 s).
    result = load_test(server.port, reviews, clients=8, seconds=90, max_requests=120, texts_per_request=2,
                       malformed_every=5, **LIMITS)
    assert result.errors == [] and result.good_requests == 96 and result.bad_answered_4xx == result.bad_requests == 24


def test_hf_pipeline_fields():
    api = DishTaggerAPI("unused", response_format="hf-pipeline")
    entities = [{"text": "chicken rice", "start": 6, "end": 18, "type": "Dish", "score": 0.9}]
    expected = [{"entity_group": "Dish", "score": 0.9, "word": "chicken rice", "start": 6, "end": 18}]
    one = PredictRequest(text="great chicken rice")
    assert api.encode_response((one, [(one.text, entities)])) == expected
    many = PredictRequest(texts=["great chicken rice", "slow"])
    assert api.encode_response((many, [(many.texts[0], entities), (many.texts[1], [])])) == [expected, []]


def test_bad_options_are_one_line_errors(tagger_ckpt, tmp_path):
    assert_one_line_error(run_script("serve.py", "--model", str(tmp_path / "missing")), "--model", "does not exist")
    assert_one_line_error(run_script("serve.py", "--model", str(tagger_ckpt), "--max-texts", "0"), "--max-texts")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert_one_line_error(run_script("serve.py", "--model", str(tagger_ckpt), "--port", port), "--port", port)


def test_sigterm_answers_requests_in_flight_then_exits(server, reviews):
    """Last test of the module: it stops the shared server. The requests wait in the model's batch (at most
    BATCH_TIMEOUT_S for more requests) when SIGTERM comes; a request sent during the drain gets 503."""
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(3)]
    for i, conn in enumerate(connections):
        conn.request("POST", "/predict", json.dumps({"text": reviews[i]}), {"Content-Type": "application/json"})
    time.sleep(0.5 * BATCH_TIMEOUT_S)  # a busy machine (the test run's other workers) reads them late
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.1 * BATCH_TIMEOUT_S)
    assert post(server, {"text": reviews[0]})[0] == 503
    answers = [(r.status, json.loads(r.read())["text"]) for r in (conn.getresponse() for conn in connections)]
    assert answers == [(200, reviews[i]) for i in range(3)]
    exit_code, _ = server.stop(timeout=60)
    assert exit_code == 0 and "Traceback" not in server.log(), server.log()[-2000:]
