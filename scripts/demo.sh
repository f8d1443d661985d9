#!/usr/bin/env bash
# The whole pipeline on the bundled sample (data/sample/, made by scripts/make_sample_data.py):
# vocabulary -> pretraining data -> pretraining -> fine-tuning for dish names -> predictions.
# Run through `make demo`, which sets up .venv first. Everything goes to runs/demo/ (cleared first).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=runs/demo
QUIET=(--trainer.enable_progress_bar false)
rm -rf "$RUN"

echo "== 1/6 SentencePiece vocabulary"
python scripts/build_vocab.py --input data/sample/reviews.txt --model-prefix "$RUN/vocab/spm" --vocab-size 400

echo "== 2/6 pretraining data (Google's TFRecord schema, 2 shards)"
python scripts/create_pretraining_data.py --input_file data/sample/reviews.txt \
    --output_file "$RUN/data/train.tfrecord" --spm_model_file "$RUN/vocab/spm.model" \
    --max_seq_length 128 --max_predictions_per_seq 20 --dupe_factor 5 --num_workers 2 --documents_per_piece 1000 --quiet

echo "== 3/6 pretraining (configs/pretrain_toy.yaml)"
python scripts/pretrain.py fit --config configs/pretrain_toy.yaml "${QUIET[@]}" \
    --data.train_files "$RUN/data/train*.tfrecord" --data.tokenizer "$RUN/vocab/spm.model" \
    --trainer.default_root_dir "$RUN/pretrain"

echo "== 4/6 fine-tuning for dish names (configs/finetune_toy.yaml; val dishes never occur in train)"
python scripts/finetune.py fit --config configs/finetune_toy.yaml "${QUIET[@]}" \
    --model.init_from "$RUN/pretrain/checkpoints/last.ckpt" --trainer.default_root_dir "$RUN/finetune"
python scripts/finetune.py validate --config configs/finetune_toy.yaml "${QUIET[@]}" \
    --trainer.default_root_dir "$RUN/finetune" --ckpt_path best

echo "== 5/6 dish names in unseen reviews"
python scripts/predict.py --model "$RUN/finetune/checkpoints/best.ckpt" --input data/sample/unseen_reviews.txt \
    --output "$RUN/unseen_dishes.jsonl"
python - "$RUN/unseen_dishes.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    print(f"  {record['text']}\n    -> {[d['text'] for d in record['dishes']]}")
PY

echo "== 6/6 training curves"
python scripts/plot_curves.py --logdir "pretrain=$RUN/pretrain" "finetune=$RUN/finetune" --output "$RUN/curves.png" \
    --tags train/loss val/mlm_accuracy val/f1 val/token_accuracy
echo "TensorBoard: tensorboard --logdir $RUN"
