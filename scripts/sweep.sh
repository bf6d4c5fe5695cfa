#!/usr/bin/env bash
# scripts/sweep.sh EXPERIMENT [LAUNCHER] [extra overrides...] - run a paper table/figure's sweep
# (conf/experiment/EXPERIMENT.yaml sets its seeds and grid, and a stable hydra.sweep.dir under
# outputs/sweeps/). EXPERIMENT_embedded is the same experiment at the embedded scale (scale=embedded).
# LAUNCHER: basic (default: one run after the other, in this process), local
# (all runs at once, one process each), slurm (one SLURM array task per run) or queue (python -m runners.queue:
# long-lived workers on this machine, JOBS of them, default the usable cores or what the GPUs hold, each
# taking the next run; the same run dirs).
# Rerunning the same command resumes: finished runs are re-reported, interrupted ones continue
# from their checkpoint.pt. Used by `make sweep EXP=... LAUNCHER=...`.
set -euo pipefail
cd "$(dirname "$0")/.."
EXP=${1:-}; SCALE=()
if [[ "$EXP" == *_embedded && ! -f "conf/experiment/$EXP.yaml" ]]; then
  EXP=${EXP%_embedded}; SCALE=(scale=embedded)
fi
if [ -z "$EXP" ] || [ ! -f "conf/experiment/$EXP.yaml" ]; then
  echo "error: EXPERIMENT '${1:-}' not found; valid: $(ls conf/experiment | sed 's/\.yaml$//' | tr '\n' ' ')(each also as <name>_embedded)" >&2
  exit 2
fi
LAUNCHER=${2:-basic}; shift $(( $# >= 2 ? 2 : 1 ))
case "$LAUNCHER" in
  basic|local|slurm) ;;
  queue) exec "${PY:-python}" -m runners.queue --experiments "$EXP" ${JOBS:+--jobs "$JOBS"} "${SCALE[@]}" "$@" ;;
  *) echo "error: LAUNCHER '$LAUNCHER' unknown; valid: basic local slurm queue" >&2; exit 2 ;;
esac
exec "${PY:-python}" -m runners.train -m "experiment=$EXP" "${SCALE[@]}" "hydra/launcher=$LAUNCHER" "$@"
