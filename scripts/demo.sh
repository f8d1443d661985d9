#!/usr/bin/env bash
# The whole pipeline on the bundled sample (data/sample/, made by scripts/make_sample_data.py).
# Run through `make demo`, which sets up .venv first. Everything goes to runs/demo/ (cleared first).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=runs/demo
rm -rf "$RUN"

echo "== 1/4 SentencePiece vocabulary"
python scripts/build_vocab.py --input data/sample/reviews.txt --model-prefix "$RUN/vocab/spm" --vocab-size 320

echo "== 2/4 pretraining data (Google's TFRecord schema, 2 shards)"
python scripts/create_pretraining_data.py --input_file data/sample/reviews.txt \
    --output_file "$RUN/data/train.tfrecord" --spm_model_file "$RUN/vocab/spm.model" \
    --max_seq_length 128 --max_predictions_per_seq 20 --dupe_factor 5 --num_workers 2 --num_shards 2 --quiet

echo "== 3/4 pretraining (configs/pretrain_toy.yaml)"
python scripts/pretrain.py fit --config configs/pretrain_toy.yaml \
    --data.train_files "$RUN/data/train*.tfrecord" --data.tokenizer "$RUN/vocab/spm.model" \
    --trainer.default_root_dir "$RUN/pretrain" --trainer.enable_progress_bar false

echo "== 4/4 training curves"
python scripts/plot_curves.py --logdir "$RUN/pretrain" --output "$RUN/curves.png"
python - <<PY
import torch
ckpt = torch.load("$RUN/pretrain/checkpoints/last.ckpt", map_location="cpu", weights_only=False)
print(f"pretrained {ckpt['global_step']} steps; checkpoint: $RUN/pretrain/checkpoints/last.ckpt")
PY
echo "TensorBoard: tensorboard --logdir $RUN"
