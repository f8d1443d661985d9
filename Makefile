# `make test` / `make demo` on a fresh clone: create .venv, install the pinned lock file and the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench clean

setup: $(STAMP)

$(STAMP): requirements.lock setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

demo: setup
	PATH=$(abspath $(VENV))/bin:$$PATH bash scripts/demo.sh

SHARED_DATA ?= ../shared/data
# BENCH_THREADS=1 when other jobs share the CPU: 2-thread kernels then stall at every barrier.
BENCH := $(PY) scripts/benchmark.py
THREADS := $(if $(BENCH_THREADS),--threads $(BENCH_THREADS))
bench: setup
	$(BENCH) pretrain --json $(THREADS)
	$(BENCH) pretrain --json $(THREADS) --precision bf16-mixed
	test ! -f $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord || \
	  $(BENCH) pretrain --json $(THREADS) --vocab-size 1600 --data $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord
	test ! -f $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord || \
	  $(BENCH) ddp --json --data $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord
	test ! -f $(SHARED_DATA)/nyt_dish/test.csv || $(BENCH) predict --json $(THREADS) \
	  --input $(SHARED_DATA)/nyt_dish/test.csv --tokenizer $(SHARED_DATA)/nyt_dish/nyt_spm.model \
	  --backends torch onnx onnx-int8
	test ! -f $(SHARED_DATA)/nyt_dish/train.csv || $(BENCH) finetune --json $(THREADS) \
	  --train $(SHARED_DATA)/nyt_dish/train.csv --dev $(SHARED_DATA)/nyt_dish/val.csv \
	  --tokenizer $(SHARED_DATA)/nyt_dish/nyt_spm.model
	test ! -f $(SHARED_DATA)/nyt_dish/reviews.txt || $(BENCH) datagen --json \
	  --input $(SHARED_DATA)/nyt_dish/reviews.txt --vocab $(SHARED_DATA)/nyt_dish/nyt_spm.model

clean:
	rm -rf runs
