#!/usr/bin/env bash
# The validation study (EXPERIMENTS.md): every named experiment's sweep, then every figure and its numbers.
#   bash docs/reproduce.sh                 all experiments, then the figures
#   bash docs/reproduce.sh figures         only the figures, from sweeps already in outputs/validation/
#   bash docs/reproduce.sh sweep NAME      one experiment's sweep
# Sweeps land in outputs/validation/<experiment>/ (not committed); figures and their numbers (a .csv per figure)
# in docs/figures/. About an hour of sweeps on a 2-core laptop (hydra.launcher.n_jobs=2; 64 minutes at ef44736).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/validation}
FIG=docs/figures
EXPERIMENTS="oct10_calibration calm_realism adl_wick venue_designs farming_fuse halt_elsewhere leverage_tails sobol"

sweep() {   # the experiment's one command, into a fixed folder
  "$PY" run.py -m experiment="$1" hydra.sweep.dir="$OUT/$1" hydra.launcher.n_jobs="${JOBS:-2}"
}

figures() {   # every experiment's figures and their numbers (plot.py's STUDY table)
  for e in $EXPERIMENTS; do
    if [ -d "$OUT/$e" ]; then "$PY" plot.py "$OUT/$e" --study "$e" --out "$FIG"; else echo "no sweep: $OUT/$e" >&2; fi
  done
}

case "${1:-all}" in
  all) for e in $EXPERIMENTS; do sweep "$e"; done; figures ;;
  figures) figures ;;
  sweep) sweep "$2" ;;
  *) echo "usage: $0 [all | figures | sweep NAME]" >&2; exit 2 ;;
esac
