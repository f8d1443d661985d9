"""The dish tagger as an HTTP service on LitServe: request schema, batching across clients, drain on stop.

Bad requests are refused in the HTTP process, before they reach the model: LitServe fails a whole
batch when one request in it fails, so a malformed request from one client must never be batched
with the requests of others. FastAPI validates the body against ``PredictRequest`` and answers 422
with a JSON ``detail`` (not JSON, a missing or unknown field, a non-string, an empty list, a text or
a list over the limits).
"""

import multiprocessing
from typing import ClassVar, Optional

import litserve as ls
import torch
from pydantic import BaseModel, ConfigDict, StrictStr, model_validator
from starlette.responses import JSONResponse

from lightning_modules.inference.span_predictor import SpanPredictor, dish_record

RESPONSE_FORMATS = ("dishes", "hf-pipeline")


class PredictRequest(BaseModel):
    """``{"text": "..."}`` or ``{"texts": ["...", ...]}``."""

    model_config = ConfigDict(extra="forbid")
    text: Optional[StrictStr] = None
    texts: Optional[list[StrictStr]] = None

    # Set by serve.py before the server starts; the HTTP processes are forked from it and inherit them.
    max_texts: ClassVar[int] = 256
    max_text_chars: ClassVar[int] = 20_000

    @model_validator(mode="after")
    def _one_field_within_limits(self):
        if (self.text is None) == (self.texts is None):
            raise ValueError('expected exactly one of "text" (a string) or "texts" (a list of strings)')
        if self.texts is not None and not self.texts:
            raise ValueError('"texts" is empty: expected at least one string')
        if self.texts is not None and len(self.texts) > self.max_texts:
            raise ValueError(f'"texts" has {len(self.texts)} strings: at most {self.max_texts} per request')
        for i, text in enumerate(self.all_texts()):
            if len(text) > self.max_text_chars:
                where = "text" if self.text is not None else f"texts[{i}]"
                raise ValueError(f'"{where}" has {len(text)} characters: at most {self.max_text_chars}')
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else self.texts


def hf_pipeline_entities(entities: list[dict]) -> list[dict]:
    """Fields of transformers' token-classification pipeline with ``aggregation_strategy="simple"``."""
    return [{"entity_group": e["type"], "score": e["score"], "word": e["text"], "start": e["start"], "end": e["end"]}
            for e in entities]


class DishTaggerAPI(ls.LitAPI):
    """One model in one worker process; each call of ``predict`` runs the texts of all batched requests together."""

    def __init__(self, model_path: str, backend: Optional[str] = None, device: str = "auto",
                 response_format: str = "dishes", model_batch_size: int = 32,
                 max_batch_size: int = 16, batch_timeout: float = 0.01, threads: Optional[int] = None):
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path="/predict")
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {RESPONSE_FORMATS}, got {response_format!r}")
        self.model_path, self.backend, self.model_device = model_path, backend, device
        self.response_format, self.model_batch_size = response_format, model_batch_size
        self.threads = threads

    def setup(self, device: str) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)  # ONNX Runtime takes the same number (tagger_backends)
        self.predictor = SpanPredictor(self.model_path, self.model_device, self.backend)

    def decode_request(self, request: PredictRequest) -> PredictRequest:  # the annotation makes FastAPI validate
        return request

    def predict(self, requests):
        """Texts of many requests in one model batch, answers split back per request."""
        batch = requests if isinstance(requests, list) else [requests]  # a list only when batching is on
        texts = [text for request in batch for text in request.all_texts()]
        entities = iter(self.predictor.predict(texts, self.model_batch_size))
        answers = [(request, [(text, next(entities)) for text in request.all_texts()]) for request in batch]
        return answers if isinstance(requests, list) else answers[0]

    def encode_response(self, answer) -> dict | list:
        request, results = answer
        if self.response_format == "hf-pipeline":  # the pipeline's shapes: a list per text
            encoded = [hf_pipeline_entities(entities) for _, entities in results]
        else:
            encoded = [dish_record(text, entities) for text, entities in results]
        if request.text is not None:
            return encoded[0]
        return encoded if self.response_format == "hf-pipeline" else {"predictions": encoded}


class RefuseWhileDraining:
    """ASGI middleware: once ``draining`` is set (SIGTERM), new requests get 503 while in-flight ones finish."""

    def __init__(self, app, draining: multiprocessing.Event):
        self.app, self.draining = app, draining

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self.draining.is_set():
            response = JSONResponse({"detail": "the server is shutting down"}, status_code=503,
                                    headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
