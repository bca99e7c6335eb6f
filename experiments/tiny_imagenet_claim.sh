#!/usr/bin/env bash
# The Tiny-ImageNet cells of docs/RESULTS.md §11 (the CPU recipe at 32 px), one run after another (two at
# once on 2 cores each run 3-5x slower). Usage:
#   bash experiments/tiny_imagenet_claim.sh DATA_ROOT TEACHER.pth LTE.pt RUNS [CELL ...]
# CELL = {lte|onehot|noise}_g{STEPS}_s{SEED}; default: the table's cells. A finished cell is skipped.
# The first cell (lte_g10_s0) was run without TEACHER.pth, so that nayer.py trained the teacher first:
#   python nayer.py ... --train-teacher-epochs 12 --teacher-ckpt TEACHER.pth --text-encoder MINILM (as below)
set -euo pipefail
DATA=$1 TEACHER=$2 LTE=$3 RUNS=$4; shift 4
CELLS=${*:-lte_g10_s0 onehot_g10_s0 lte_g10_s1 onehot_g10_s1 noise_g10_s0 lte_g2_s0 onehot_g2_s0 lte_g2_s1 onehot_g2_s1}
for cell in $CELLS; do
  IFS=_ read -r input g seed <<< "$cell"
  [ -f "$RUNS/$cell/summary.json" ] && { echo "$cell: done"; continue; }
  echo "$cell: $(date +%T)"
  python nayer.py --dataset tiny_imagenet --data-root "$DATA" --image-size 32 --device cpu \
    --teacher wrn16_1 --student wrn16_1 --teacher-ckpt "$TEACHER" --lte-file "$LTE" \
    --epochs 20 --warmup 4 --warmup-g-loops 3 --g-loops 2 --synthesis-batch-size 200 --batch-size 128 \
    --kd-steps 50 --lr 0.1 --eval-every 4 --flip kd --no-amp \
    --generator-input "$input" --g-steps "${g#g}" --seed "${seed#s}" --out "$RUNS/$cell" > "$RUNS/$cell.log" 2>&1
  tail -1 "$RUNS/$cell.log"
done
