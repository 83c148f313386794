#!/usr/bin/env bash
# The smoke experiments behind RESULTS.md: every model and ablation on the SynthAU smoke set, on the CPU.
# Usage: bash experiments/smoke.sh [DATA_DIR] [RUNS_DIR]     (about 30 minutes on 2 cores)
set -euo pipefail
AULIB=${AULIB:-.venv/bin/aulib}
DATA=${1:-data}
RUNS=${2:-runs/smoke}
mkdir -p "$DATA" "$RUNS"
$AULIB synth --out "$DATA/synthau" --subjects 24 --frames 84 --seed 0
$AULIB prepare synthau --root "$DATA/synthau" --out "$DATA/synthau-prepared" --quiet
train() {  # name, then extra options; --resume makes a rerun continue (or skip) finished work
  local name=$1; shift
  $AULIB train --data "$DATA/synthau-prepared" --out "$RUNS/$name" --profile smoke --resume "$@"
  $AULIB evaluate --run "$RUNS/$name"
}
train hourglass                       # RQ1: the single Hourglass (tiny preset)
train per-au --model per-au-tiny      # RQ4: one Hourglass per AU
train resnet18 --model resnet18-small # RQ1: direct regression
train fixed-extent --extent fixed     # RQ5: Gaussian extent fixed instead of growing
train l2 --loss l2                    # RQ5: L2 instead of Huber
$AULIB evaluate --run "$RUNS/hourglass" --readout-window 24 --suffix _local   # RQ5: local readout
for name in hourglass per-au resnet18 fixed-extent l2; do
  $AULIB robustness --run "$RUNS/$name"
done
