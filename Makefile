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
bench: setup
	$(PY) scripts/benchmark.py pretrain --json
	$(PY) scripts/benchmark.py pretrain --json --precision bf16-mixed
	test ! -f $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord || \
	  $(PY) scripts/benchmark.py pretrain --json --vocab-size 1600 --data $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord
	test ! -f $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord || \
	  $(PY) scripts/benchmark.py ddp --json --data $(SHARED_DATA)/google_tfrecord/reviews_train.tfrecord
	test ! -f $(SHARED_DATA)/nyt_dish/test.csv || $(PY) scripts/benchmark.py predict --json \
	  --input $(SHARED_DATA)/nyt_dish/test.csv --tokenizer $(SHARED_DATA)/nyt_dish/nyt_spm.model
	test ! -f $(SHARED_DATA)/nyt_dish/train.csv || $(PY) scripts/benchmark.py finetune --json \
	  --train $(SHARED_DATA)/nyt_dish/train.csv --dev $(SHARED_DATA)/nyt_dish/val.csv \
	  --tokenizer $(SHARED_DATA)/nyt_dish/nyt_spm.model
	test ! -f $(SHARED_DATA)/nyt_dish/reviews.txt || $(PY) scripts/benchmark.py datagen --json \
	  --input $(SHARED_DATA)/nyt_dish/reviews.txt --vocab $(SHARED_DATA)/nyt_dish/nyt_spm.model

clean:
	rm -rf runs
