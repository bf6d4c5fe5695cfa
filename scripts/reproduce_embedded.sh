#!/usr/bin/env bash
# `make reproduce-embedded`: every experiment at the embedded scale (`experiment=<name> scale=embedded`,
# conf/scale/embedded.yaml) as a Hydra multirun, one after another (two training processes on 2 cores only slow each other down), then the
# tables and figures. About 420 runs of the digits CNN/MLP (6 epochs each), budgeted for < 20 min on
# 2 CPU cores. table5_* and imagenet_* are left out: at embedded scale they are the digits/CNN runs of
# table1 again (run them by hand: python -m runners.train -m experiment=table5_grid scale=embedded).
set -euo pipefail
PY=${PY:-python}
RESULTS=${RESULTS:-outputs}
REPORT=${REPORT:-reports}
EXPERIMENTS=(
  table1_grid table1_fixed table2_cv_grid table2_cv_fixed table2_nlp_grid table2_nlp_fixed table4_grid
  table6_grid table6_fixed table7_strategies table7_ablations table8_9_strategies table8_9_ablations table10
  fig9_case fig10_initial fig10_n_ini fig10_tau fig10_components fig11_spaces
)
start=$SECONDS
for exp in "${EXPERIMENTS[@]}"; do
  t0=$SECONDS
  "$PY" -m runners.train -m "experiment=${exp}" scale=embedded "hydra.sweep.dir=${RESULTS}/sweeps/${exp}_embedded" \
    > /dev/null || echo "warning: some runs of ${exp}_embedded failed (the tables list what is missing)" >&2
  echo "${exp}_embedded: $((SECONDS - t0)) s (total $((SECONDS - start)) s)"
done
"$PY" -m analysis tables --results "$RESULTS" --out "$REPORT/tables"
"$PY" -m runners.toys --scale embedded --out "$RESULTS/toys"
"$PY" -m analysis figures --results "$RESULTS" --out "$REPORT/figures"
echo "reproduce-embedded: $((SECONDS - start)) s"
