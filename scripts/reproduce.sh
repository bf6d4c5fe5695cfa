#!/usr/bin/env bash
# `make reproduce-embedded|reproduce-mnist|reproduce-gpu`: the experiments of a scale as one work queue of
# runs (python -m runners.queue), then the tables and figures.
#   embedded (conf/scale/embedded.yaml): every experiment on scikit-learn's digits, 5 seeds (CPU, offline).
#   mnist (conf/scale/mnist.yaml): Table 1's and Table 7's rows on the real MNIST, 3 seeds (CPU).
#   gpu (conf/scale/gpu.yaml): Table 1's and Table 7's rows and DOIT/DOIT+/bandit on the full MNIST with
#     ResNet18 (ImageNet weights when cached), batch 64, 3 epochs (EPOCHS), 3 seeds, device=cuda.
# MNIST (mnist, gpu): $MNIST_ROOT (torchvision's layout or the four .gz files), else ../shared/data/mnist when
# it exists (this project's machines), else torchvision downloads it into $DOIT_DATA (default ./data).
# Every run of every experiment's sweep is one work item, largest first, written where the multirun
# `python -m runners.train -m experiment=<name> scale=<scale> threads=1 hydra.sweep.dir=$RESULTS/sweeps/<name>_<scale>`
# writes it; JOBS workers (default: the usable cores, on GPUs what their free memory holds) each take the next
# run. EXPERIMENTS replaces the scale's list; OVERRIDES (Hydra overrides) is appended to every sweep (the CI
# test runs a reduced form through this script); EPOCHS sets epochs=; GB_PER_RUN is the GPU memory a run is
# assumed to take. Rerunning the same command resumes: finished runs are re-reported, interrupted runs
# continue from their checkpoint.pt. Exit code: the queue's (1 when a run failed or is missing), after the
# tables and figures are written.
# table5_* and imagenet_* are left out of embedded: there they are the digits/CNN runs of table1 again.
set -euo pipefail
SCALE=${1:?usage: scripts/reproduce.sh embedded|mnist|gpu}
PY=${PY:-python}
RESULTS=${RESULTS:-outputs}
REPORT=${REPORT:-reports}
HERE="$(cd "$(dirname "$0")/.." && pwd)"
case "$SCALE" in
  embedded)
    DEFAULT=(
      table1_grid table4_grid table1_fixed table2_cv_grid table2_nlp_grid table8_9_strategies table6_grid
      table8_9_ablations table2_cv_fixed table2_nlp_fixed table7_strategies table6_fixed table7_ablations
      table10 fig11_spaces table7_one_lr fig9_case fig10_initial fig10_n_ini fig10_tau fig10_components
    ) ;;
  mnist)
    DEFAULT=(table1_grid table1_fixed table7_ablations table7_strategies table7_one_lr) ;;
  gpu)
    GPU_EXPERIMENTS=(table1_grid table1_fixed table7_ablations table7_strategies table7_one_lr beyond_fixed)
    # the one-run methods, once their experiment exists
    if [[ -f "$HERE/conf/experiment/one_run.yaml" ]]; then GPU_EXPERIMENTS+=(one_run); fi
    DEFAULT=("${GPU_EXPERIMENTS[@]}") ;;
  *) echo "error: scale: unknown scale '$SCALE'; valid: embedded, mnist, gpu" >&2; exit 2 ;;
esac
if [[ "$SCALE" != embedded ]]; then
  shared="$(dirname "$HERE")/shared/data/mnist"
  if [[ -z "${MNIST_ROOT:-}" && -f "$shared/train-images-idx3-ubyte.gz" ]]; then
    export MNIST_ROOT="$shared"
  fi
  echo "MNIST from ${MNIST_ROOT:-${DOIT_DATA:-data} (downloaded by torchvision when absent)}"
fi
read -r -a EXPERIMENTS <<< "${EXPERIMENTS:-${DEFAULT[*]}}"
read -r -a EXTRA <<< "${OVERRIDES:-}"
QUEUE=(--experiments "${EXPERIMENTS[*]}")
if [[ -n "${JOBS:-}" ]]; then QUEUE+=(--jobs "$JOBS"); fi
if [[ -n "${GB_PER_RUN:-}" ]]; then QUEUE+=(--gb-per-run "$GB_PER_RUN"); fi
if [[ -n "${EPOCHS:-}" ]]; then EXTRA=("epochs=$EPOCHS" "${EXTRA[@]}"); fi
start=$SECONDS
status=0
"$PY" -m runners.queue "${QUEUE[@]}" "scale=$SCALE" threads=1 \
  "hydra.sweep.dir=$RESULTS/sweeps/\${experiment_name}_$SCALE" "${EXTRA[@]}" || status=$?
if [[ $status -eq 2 ]]; then exit 2; fi  # a sweep could not be composed: nothing ran
"$PY" -m analysis tables --results "$RESULTS" --out "$REPORT/tables"
if [[ "$SCALE" == embedded ]]; then "$PY" -m runners.toys --scale embedded --out "$RESULTS/toys"; fi
"$PY" -m analysis figures --results "$RESULTS" --out "$REPORT/figures"
echo "reproduce-${SCALE}: $((SECONDS - start)) s"
exit $status
