# `make test` / `make demo` on a fresh clone: create .venv, install the pinned lock file and the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench reviews-model dish-tagger clean device-check device-check-tiny device-wheels peer-spacy

setup: $(STAMP)

$(STAMP): requirements.lock setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto --durations=15

demo: setup
	PATH=$(abspath $(VENV))/bin:$$PATH bash scripts/demo.sh

SHARED_DATA ?= ../shared/data
comma := ,
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
	test ! -f $(SHARED_DATA)/nyt_dish/test.csv || $(BENCH) serve --json \
	  --input $(SHARED_DATA)/nyt_dish/test.csv --tokenizer $(SHARED_DATA)/nyt_dish/nyt_spm.model
	test ! -f $(SHARED_DATA)/nyt_dish/train.csv || $(BENCH) finetune --json $(THREADS) \
	  --train $(SHARED_DATA)/nyt_dish/train.csv --dev $(SHARED_DATA)/nyt_dish/val.csv \
	  --tokenizer $(SHARED_DATA)/nyt_dish/nyt_spm.model
	test ! -f $(SHARED_DATA)/nyt_dish/reviews.txt || $(BENCH) datagen --json \
	  --input $(SHARED_DATA)/nyt_dish/reviews.txt --vocab $(SHARED_DATA)/nyt_dish/nyt_spm.model

# The prepared accelerator run (scripts/device_check.py: pretraining eager and compiled, MFU, memory, then
# fine-tuning and prediction, as JSON); device-check-tiny is the same on any CPU in seconds (a test runs it).
device-check: setup
	$(PY) scripts/device_check.py --output runs/device-check
device-check-tiny: setup
	$(PY) scripts/device_check.py --output runs/device-check-tiny --tiny
# What a lent GPU machine's Python lacks (it has torch, lightning; no network), at the lock file's versions,
# as wheels for its Python 3.12 in .whl/ (docs/performance.md: how to carry and install them there).
DEVICE_WHEELS := .whl
device-wheels: setup
	rm -rf $(DEVICE_WHEELS)
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d $(DEVICE_WHEELS) \
	  $$(grep -E '^(jsonargparse|docstring_parser|typeshed_client|crc32c|transformers|huggingface_hub)==' requirements.lock)
	$(PY) -m pip wheel --quiet --no-deps -w $(DEVICE_WHEELS) $$(grep -E '^tfrecord==' requirements.lock)

# The peer baseline: spaCy's NER from scratch on menu_ner (requirements-peer.lock, never imported by the package),
# and our bundled tagger, both tagging menu_ner's test texts into predict.py's JSONL, scored by the same code.
PEER := runs/peer-spacy
MENU := $(SHARED_DATA)/menu_ner
peer-spacy: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-peer.lock
	$(PY) scripts/spacy_peer.py --train $(MENU)/train.bio --dev $(MENU)/valid.bio --test $(MENU)/test.bio --output $(PEER)
	$(PY) scripts/score_spans.py --gold $(MENU)/test.bio --write-texts $(PEER)/test_texts.txt
	$(PY) scripts/predict.py --model models/dish-tagger-small --input $(PEER)/test_texts.txt \
	  --output $(PEER)/ours-predictions.jsonl --overwrite
	@echo "spaCy (from scratch):"; $(PY) scripts/score_spans.py --gold $(MENU)/test.bio --predictions $(PEER)/predictions.jsonl
	@echo "models/dish-tagger-small:"; $(PY) scripts/score_spans.py --gold $(MENU)/test.bio \
	  --predictions $(PEER)/ours-predictions.jsonl

# models/albert-reviews-small from the shared review corpora (training text only: no labelled val/test
# text), with configs/pretrain_reviews.yaml; about 90 minutes on 2 CPU cores. Fixed seeds throughout.
REVIEWS := runs/reviews
REVIEW_CORPORA := lines:$(SHARED_DATA)/yelp_reviews/reviews.txt lines:$(SHARED_DATA)/zomato_reviews/reviews.txt \
	lines:$(SHARED_DATA)/restaurant_reviews/reviews.txt
reviews-model: setup
	$(PY) scripts/build_vocab.py --input $(REVIEW_CORPORA) --model-prefix $(REVIEWS)/vocab/spm --vocab-size 8000 --overwrite
	$(PY) scripts/create_pretraining_data.py --input_file "$(subst $(eval) ,$(comma),$(REVIEW_CORPORA))" \
	  --output_file $(REVIEWS)/data/train.tfrecord --spm_model_file $(REVIEWS)/vocab/spm.model \
	  --max_seq_length 128 --max_predictions_per_seq 20 --dupe_factor 5 --num_workers 2 --quiet --overwrite
	rm -rf $(REVIEWS)/pretrain
	$(PY) scripts/pretrain.py fit --config configs/pretrain_reviews.yaml --trainer.enable_progress_bar false
	$(PY) scripts/export_hf.py --model $(REVIEWS)/pretrain/checkpoints/last.ckpt --output $(REVIEWS)/export --overwrite
	cp $(REVIEWS)/export/* models/albert-reviews-small/  # beside the model card, which stays
	$(PY) scripts/plot_curves.py --logdir $(REVIEWS)/pretrain --output models/albert-reviews-small/curves.png \
	  --tags train/loss val/mlm_accuracy val/mlm_replaced_accuracy val/sop_accuracy

# models/dish-tagger-small: configs/finetune_dish.yaml from models/albert-reviews-small on menu_ner + nyt_dish +
# mit_restaurant's Dish spans (its other types dropped), seed 1 (validation F1 of seeds 1-2); then its test F1
# on each corpus's test split. Batches in random order: grouping windows by length made batches of one corpus
# at a time (short MIT queries, long NYT sentences) and cost about 0.02 validation F1 (model card).
TAGGER := runs/dish-tagger
D := $(SHARED_DATA)
TAGGER_ARGS := --config configs/finetune_dish.yaml --model.init_from models/albert-reviews-small --seed_everything 1 \
	--data.train_file '[$(D)/menu_ner/train.bio, $(D)/nyt_dish/train.csv, $(D)/mit_restaurant/train.bio]' \
	--data.val_file '[$(D)/menu_ner/valid.bio, $(D)/nyt_dish/val.csv]' --data.entity_types Dish \
	--data.label_map '{MENU: Dish}' --data.bucket_window 0 --trainer.default_root_dir $(TAGGER) --trainer.enable_progress_bar false
dish-tagger: setup
	rm -rf $(TAGGER)
	$(PY) scripts/finetune.py fit $(TAGGER_ARGS)
	for test in menu_ner/test.bio mit_restaurant/test.bio nyt_dish/test.csv; do \
	  $(PY) scripts/finetune.py test $(TAGGER_ARGS) --data.test_file $(D)/$$test --ckpt_path $(TAGGER)/checkpoints/best.ckpt \
	    | grep -E "test/(f1|precision|recall) " | sed "s|^|$$test |"; done
	$(PY) scripts/export_hf.py --model $(TAGGER)/checkpoints/best.ckpt --output $(TAGGER)/export --overwrite
	mkdir -p models/dish-tagger-small && cp $(TAGGER)/export/* models/dish-tagger-small/  # beside the model card

clean:
	rm -rf runs
