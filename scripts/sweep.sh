#!/usr/bin/env bash
# scripts/sweep.sh EXPERIMENT [LAUNCHER] [extra overrides...] - run a paper table/figure's sweep
# (conf/experiment/EXPERIMENT.yaml sets its seeds and grid, and a stable hydra.sweep.dir under
# outputs/sweeps/). LAUNCHER: basic (default: one run after the other, in this process), local
# (all runs at once, one process each) or slurm (one SLURM array task per run).
# Rerunning the same command resumes: finished runs are re-reported, interrupted ones continue
# from their checkpoint.pt. Used by `make sweep EXP=... LAUNCHER=...`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ ! -f "conf/experiment/$1.yaml" ]; then
  echo "error: EXPERIMENT '${1:-}' not found; valid: $(ls conf/experiment | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
  exit 2
fi
EXP=$1; LAUNCHER=${2:-basic}; shift $(( $# >= 2 ? 2 : 1 ))
case "$LAUNCHER" in
  basic|local|slurm) ;;
  *) echo "error: LAUNCHER '$LAUNCHER' unknown; valid: basic local slurm" >&2; exit 2 ;;
esac
exec "${PY:-python}" -m runners.train -m "experiment=$EXP" "hydra/launcher=$LAUNCHER" "$@"
