#!/usr/bin/env bash
# One timed GPU session (results/h200-gpu-session/ came from it): benchmarks, then GPU-scale runs under a
# deadline, everything written under $OUT. From the repository root on a GPU machine:
#   OUT=/some/dir MNIST_ROOT=/path/to/mnist BUDGET=360 bash scripts/gpu_session.sh
# BUDGET (seconds) bounds the whole script: runs still going at the deadline checkpoint and stop (rerunning the
# same queue commands would resume them; this session keeps only the finished ones). Phases:
#   1. benchmarks/runner_overhead.py --device cuda: the runner vs a bare loop, DOIT vs SGD (ResNet18/MNIST, 64),
#      with torch's default optimizer implementations and with --fused (fused=true);
#   2. benchmarks/gpu_concurrency.py: steps/s of 16 processes at once against 1, plain and under NVIDIA MPS
#      (when nvidia-cuda-mps-control exists; the runs below then use MPS);
#   3. run queues side by side (python -m runners.queue, scale=gpu): (a) with ONE_RUN=1 (default) the one-run
#      methods at 3 epochs, seeds 0-2; (b) LONG_METHODS (default DOIT, DOIT+, DOIT+2) and the validation-best
#      single optimizer of the 3-epoch runs (Adagrad, lr 0.01) on seeds 0-2 for as many epochs (at most
#      MAX_EPOCHS, default 15) as the per-process rate fits;
#   4. the run dirs (without checkpoints) as $OUT/gpu-runs.tar.gz.
# RATE (steps/s per process with 16 at once, as phase 2 measures it: 58 on the H200 under MPS) skips phase 2's
# measurement and leaves its time to the runs; MPS is still started when it exists.
# BENCH (extra benchmark flags) and OVERRIDES (extra run overrides) let a CPU smoke test shrink everything.
set -uo pipefail
: "${OUT:?set OUT to a folder for the results}"
BUDGET=${BUDGET:-360}
PY=${PY:-python3}
RESULTS=${RESULTS:-outputs/gpu-session}
DEVICE=${DEVICE:-cuda}
read -r -a BENCH <<< "${BENCH:-}"
read -r -a EXTRA <<< "${OVERRIDES:-}"
export PYTHONUNBUFFERED=1 DOIT_CACHE=${DOIT_CACHE:-/tmp/doit-cache}
start=$SECONDS
left() { echo $((BUDGET - (SECONDS - start))); }
log() { echo "[$((SECONDS - start)) s] $*" | tee -a "$OUT/session.log"; }

nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
log "python $($PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)') commit ${DOIT_COMMIT:-?}"

log "phase 1: runner overhead"
for impl in "" --fused; do  # torch's default optimizer implementations, then its fused kernels (fused=true)
  timeout 90 "$PY" benchmarks/runner_overhead.py --device "$DEVICE" --steps 400 --reps 2 $impl "${BENCH[@]}" 2>&1 \
    | tee -a "$OUT/runner_overhead.txt"
done

log "phase 2: concurrency${RATE:+ (not measured: RATE=$RATE given)}"
concurrency() {
  if [[ -n "${RATE:-}" ]]; then return 0; fi
  timeout 60 "$PY" benchmarks/gpu_concurrency.py --procs 1,16 --steps 150 --device "$DEVICE" "$@"
}
concurrency --label plain "${BENCH[@]}" 2>&1 | tee "$OUT/concurrency.txt"
MPS=0
if command -v nvidia-cuda-mps-control > /dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d && { [[ -n "${RATE:-}" ]] ||
    concurrency --label mps 2>&1 | tee -a "$OUT/concurrency.txt" | grep -q '"ratio"'; }; then
    MPS=1
  else
    echo quit | nvidia-cuda-mps-control 2> /dev/null
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  fi
fi
# per-process steps/s with 16 at once (RATE, else the last JSON line: under MPS when it ran), and the epochs
# that fit
rate=${RATE:-$(grep '"ratio"' "$OUT/concurrency.txt" | tail -1 | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["steps_per_s"]["16"] / 16)' 2> /dev/null || echo 0)}
deadline=$(($(left) - 30))
long_epochs=$("$PY" -c "print(max(0, min(${MAX_EPOCHS:-15}, int(0.6 * $rate * ($deadline - 40) / 844))))")
log "MPS=$MPS, ${rate} steps/s per process at 16, ${deadline} s for runs: long runs ${long_epochs} epochs"

log "phase 3: runs"
queue() {  # queue JOBS EXPERIMENT OVERRIDES...: one run queue until the deadline
  local jobs=$1 experiment=$2
  shift 2
  timeout -s TERM "$deadline" "$PY" -m runners.queue --jobs "$jobs" --experiments "$experiment" scale=gpu \
    threads=1 "hydra.sweep.dir=$RESULTS/sweeps/\${experiment_name}_gpu" "$@" "${EXTRA[@]}"
}
LONG_METHODS=${LONG_METHODS:-doit,doit_plus,doit_plus2}
long_jobs=$((3 * $(tr , '\n' <<< "$LONG_METHODS" | wc -l)))  # every long run at once: 3 seeds per method
if [[ ${ONE_RUN:-1} == 1 ]]; then
  one_run_jobs=$((long_epochs > 3 ? 16 - long_jobs - 3 : 16))  # the cores the long runs leave
  queue "$((one_run_jobs > 1 ? one_run_jobs : 1))" one_run \
    method=adam,adam_coslr,prodigy,schedulefree_adamw,schedulefree_sgd,dadapt_adam > "$OUT/queue-one-run.txt" 2>&1 &
fi
if ((long_epochs > 3)); then
  queue "$long_jobs" beyond_fixed "epochs=$long_epochs" "method=$LONG_METHODS" > "$OUT/queue-long-doit.txt" 2>&1 &
  queue 3 table1_grid "epochs=$long_epochs" method=adagrad lr=0.01 > "$OUT/queue-long-adagrad.txt" 2>&1 &
fi
wait
log "runs done"
if [[ $MPS == 1 ]]; then echo quit | nvidia-cuda-mps-control; fi
tar czf "$OUT/gpu-runs.tar.gz" --exclude=checkpoint.pt --exclude=.queue-lease -C "$RESULTS" sweeps
log "end"
