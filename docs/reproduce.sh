#!/usr/bin/env bash
# The validation study (EXPERIMENTS.md): every named experiment's sweep, then every figure and its numbers.
#   bash docs/reproduce.sh                 all experiments, then the figures
#   bash docs/reproduce.sh figures         only the figures, from sweeps already in outputs/validation/
#   bash docs/reproduce.sh sweep NAME      one experiment's sweep
# Sweeps land in outputs/validation/<experiment>/ (not committed); figures and their numbers (a .csv per figure)
# in docs/figures/. About an hour of sweeps on a 2-core laptop (hydra.launcher.n_jobs=2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/validation}
FIG=docs/figures
EXPERIMENTS="oct10_calibration calm_realism adl_wick venue_designs farming_fuse halt_elsewhere leverage_tails sobol"

sweep() {   # the experiment's one command, into a fixed folder
  "$PY" run.py -m experiment="$1" hydra.sweep.dir="$OUT/$1" hydra.launcher.n_jobs="${JOBS:-2}"
}

figures() {
  mkdir -p "$FIG"
  "$PY" plot.py "$OUT/calm_realism" --bars --out "$FIG/calm_realism" --metric \
    stats.returns.BTC.kurtosis_venue,stats.returns.BTC.kurtosis_fundamental,stats.returns.ALT.kurtosis_venue,stats.returns.ALT.kurtosis_fundamental,stats.returns.BTC.acf1_venue,stats.returns.ALT.acf1_venue,stats.returns.BTC.abs_acf_mean_1_30_venue,stats.returns.BTC.abs_acf_mean_1_30_fundamental,stats.returns.ALT.abs_acf_mean_1_30_venue,stats.returns.ALT.abs_acf_mean_1_30_fundamental,stats.funding.median_8h_bps,stats.funding.p99_abs_8h_bps,stats.funding.baseline_share,stats.venue_gap_p95_pct,stats.arb_band_pct
  "$PY" plot.py "$OUT/oct10_calibration" --bars --out "$FIG/oi_flight" --metric \
    venues.binance.oi_drop_pct,venues.hyperliquid.oi_drop_pct,venues.lighter.oi_drop_pct
  "$PY" plot.py "$OUT/oct10_calibration" --bars --out "$FIG/calibration" --metric \
    stats.oct10.long_share_liquidated,stats.oct10.liquidated_over_oi,stats.oct10.oi_drop_pct_BTC,stats.oct10.oi_drop_pct_ALT,stats.oct10.depth1_collapse_pct_BTC,stats.oct10.depth1_collapse_pct_ALT,stats.funding.pre_shock_annual_pct,stats.funding.post_shock_annual_pct,stats.oct10.max_venue_drawdown_pct_ALT,stats.oct10.fundamental_drawdown_pct_ALT,totals.adl_low_leverage_share
  "$PY" plot.py "$OUT/adl_wick" --bars --x shock.depth_pct.ALT --out "$FIG/adl_wick" --metric \
    stats.adl_by_leverage.ALT.le2,stats.adl_by_leverage.ALT.2to5,stats.adl_by_leverage.ALT.5to10,stats.adl_by_leverage.ALT.gt10,stats.oct10.max_venue_drawdown_pct_ALT,stats.adl_by_leverage.ALT.notional_usd
  "$PY" plot.py "$OUT/farming_fuse" --x max_leverage --y incentives.point_value_usd --out "$FIG/farming_fuse" --metric \
    totals.liquidated_notional_usd,totals.adl_notional_usd,totals.broken_hedges,totals.bad_debt_usd
  "$PY" plot.py "$OUT/farming_fuse" --x max_leverage --out "$FIG/farming_fuse_lines" --by incentives.point_value_usd --metric \
    totals.liquidated_notional_usd,totals.broken_hedges
  "$PY" plot.py "$OUT/halt_elsewhere" --bars --x halt --out "$FIG/halt_elsewhere" --metric \
    stats.shock_window.binance.volume_usd,stats.shock_window.hyperliquid.volume_usd,stats.shock_window.lighter.volume_usd,venues.binance.liquidated_notional_usd,venues.hyperliquid.liquidated_notional_usd,venues.lighter.liquidated_notional_usd,totals.liquidated_notional_usd,totals.adl_notional_usd,totals.bad_debt_usd
  "$PY" plot.py "$OUT/halt_elsewhere" --x halt --paired none --out "$FIG/halt_elsewhere_paired" --metric \
    totals.liquidated_notional_usd,totals.adl_notional_usd,totals.bad_debt_usd,totals.broken_hedges
  "$PY" plot.py "$OUT/venue_designs" --x venue_design --paired baseline --out "$FIG/venue_designs" --metric \
    totals.bad_debt_usd,totals.adl_notional_usd,totals.adl_low_leverage_share,venues.hyperliquid.adl_notional_usd
  "$PY" plot.py "$OUT/venue_designs" --bars --x venue_design --out "$FIG/adl_counterfactuals" --metric \
    adl_counterfactuals.hyperliquid.queue.largest_winner_extra_usd,adl_counterfactuals.hyperliquid.capped_pro_rata.largest_winner_extra_usd,adl_counterfactuals.hyperliquid.queue.low_leverage_share,adl_counterfactuals.hyperliquid.pro_rata.low_leverage_share,adl_counterfactuals.hyperliquid.capped_pro_rata.low_leverage_share,adl_counterfactuals.hyperliquid.budget_usd
  "$PY" plot.py "$OUT/leverage_tails" --x max_leverage --out "$FIG/leverage_tails" --metric \
    stats.returns.BTC.kurtosis_venue,stats.returns.ALT.kurtosis_venue,stats.returns.BTC.abs_acf_mean_1_30_venue,stats.returns.ALT.abs_acf_mean_1_30_venue,stats.liq_share_big_moves,stats.liq_share_all,totals.liquidated_notional_usd
  "$PY" plot.py "$OUT/sobol" --sobol --out "$FIG/sobol" --metric totals.liquidated_notional_usd,totals.broken_hedges
}

case "${1:-all}" in
  all) for e in $EXPERIMENTS; do sweep "$e"; done; figures ;;
  figures) figures ;;
  sweep) sweep "$2" ;;
  *) echo "usage: $0 [all | figures | sweep NAME]" >&2; exit 2 ;;
esac
