#!/usr/bin/env bash
# `make reproduce-embedded` / `make reproduce-mnist`: the experiments of a CPU scale as Hydra multiruns
# (`experiment=<name> scale=<scale>`), then the tables and figures.
#   embedded (conf/scale/embedded.yaml): every experiment on scikit-learn's digits, 5 seeds.
#   mnist (conf/scale/mnist.yaml): Table 1's and Table 7's rows on the real MNIST, 3 seeds. The data:
#     $MNIST_ROOT (torchvision's layout or the four .gz files), else ../shared/data/mnist when it exists
#     (this project's machines), else torchvision downloads it into $DOIT_DATA (default ./data).
# JOBS workers run side by side, each taking the next experiment of the list (largest first) as a
# basic-launcher multirun (one process, runs one after another, threads=1): on 2 cores JOBS=2 uses both.
# EXPERIMENTS replaces the scale's list; OVERRIDES (Hydra overrides) is appended to every multirun (the CI
# test runs a reduced form through this script: one seed, two methods, a few hundred steps).
# table5_* and imagenet_* are left out of embedded: there they are the digits/CNN runs of table1 again.
set -euo pipefail
SCALE=${1:?usage: scripts/reproduce.sh embedded|mnist}
PY=${PY:-python}
RESULTS=${RESULTS:-outputs}
REPORT=${REPORT:-reports}
JOBS=${JOBS:-2}
case "$SCALE" in
  embedded)
    DEFAULT=(
      table1_grid table4_grid table1_fixed table2_cv_grid table2_nlp_grid table8_9_strategies table6_grid
      table8_9_ablations table2_cv_fixed table2_nlp_fixed table7_strategies table6_fixed table7_ablations
      table10 fig11_spaces table7_one_lr fig9_case fig10_initial fig10_n_ini fig10_tau fig10_components
    ) ;;
  mnist)
    DEFAULT=(table1_grid table1_fixed table7_ablations table7_strategies table7_one_lr)
    shared="$(cd "$(dirname "$0")/../.." && pwd)/shared/data/mnist"
    if [[ -z "${MNIST_ROOT:-}" && -f "$shared/train-images-idx3-ubyte.gz" ]]; then
      export MNIST_ROOT="$shared"
    fi
    echo "MNIST from ${MNIST_ROOT:-${DOIT_DATA:-data} (downloaded by torchvision when absent)}" ;;
  *) echo "error: scale: unknown scale '$SCALE'; valid: embedded, mnist" >&2; exit 2 ;;
esac
read -r -a EXPERIMENTS <<< "${EXPERIMENTS:-${DEFAULT[*]}}"
read -r -a EXTRA <<< "${OVERRIDES:-}"
start=$SECONDS
# a work list of one file per experiment (largest first); each of the JOBS workers claims the next one with
# an atomic rename, so a worker that finishes early takes what is left (no fixed round-robin split)
todo=$(mktemp -d)
trap 'rm -rf "$todo"' EXIT
for i in "${!EXPERIMENTS[@]}"; do printf '%s' "${EXPERIMENTS[i]}" > "$todo/$(printf '%03d' "$i")"; done
worker() {
  for item in "$todo"/[0-9][0-9][0-9]; do
    mv "$item" "$item.taken" 2> /dev/null || continue
    exp=$(< "$item.taken")
    t0=$SECONDS
    "$PY" -m runners.train -m "experiment=${exp}" "scale=${SCALE}" threads=1 \
      "hydra.sweep.dir=${RESULTS}/sweeps/${exp}_${SCALE}" "${EXTRA[@]}" > /dev/null \
      || echo "warning: some runs of ${exp}_${SCALE} failed (the tables list what is missing)" >&2
    echo "${exp}_${SCALE}: $((SECONDS - t0)) s (total $((SECONDS - start)) s)"
  done
}
pids=()
for ((w = 0; w < JOBS; w++)); do
  worker &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
"$PY" -m analysis tables --results "$RESULTS" --out "$REPORT/tables"
if [[ "$SCALE" == embedded ]]; then "$PY" -m runners.toys --scale embedded --out "$RESULTS/toys"; fi
"$PY" -m analysis figures --results "$RESULTS" --out "$REPORT/figures"
echo "reproduce-${SCALE}: $((SECONDS - start)) s"
