"""The validation study's figures (EXPERIMENTS.md): STUDY names every figure of each experiment, and
`python plot.py SWEEP_DIR --study NAME` draws them with their tables of numbers."""

from __future__ import annotations

from pathlib import Path

from figures import _DPI, PlotError
from sweep_figures import _check_sweep, bars_plot, paired_plot, sobol_plot, sweep_plot

_RET = "stats.returns"

STUDY: dict[str, list[tuple[str, str, dict]]] = {
    # experiment -> [(figure name, kind, arguments)]: what `plot.py SWEEP_DIR --study NAME` draws (EXPERIMENTS.md)
    "calm_realism": [("calm_realism", "bars", dict(metric=",".join([
        f"{_RET}.BTC.kurtosis_venue", f"{_RET}.BTC.kurtosis_fundamental", f"{_RET}.ALT.kurtosis_venue",
        f"{_RET}.ALT.kurtosis_fundamental", f"{_RET}.BTC.acf1_venue", f"{_RET}.ALT.acf1_venue",
        f"{_RET}.BTC.abs_acf_mean_1_30_venue", f"{_RET}.BTC.abs_acf_mean_1_30_fundamental",
        f"{_RET}.ALT.abs_acf_mean_1_30_venue", f"{_RET}.ALT.abs_acf_mean_1_30_fundamental",
        f"{_RET}.BTC.abs_acf1_venue", f"{_RET}.BTC.abs_acf5_venue", f"{_RET}.BTC.abs_acf_positive_share",
        f"{_RET}.ALT.abs_acf1_venue", "totals.liquidated_notional_usd", "stats.liq_share_big_moves",
        "stats.liq_share_all", "stats.funding.median_8h_bps", "stats.funding.p99_abs_8h_bps", "stats.funding.baseline_share",
        "stats.venue_gap_p95_pct", "stats.arb_band_pct"])))],
    "oct10_calibration": [
        ("oi_flight", "bars", dict(metric="venues.binance.oi_drop_pct,venues.hyperliquid.oi_drop_pct,"
                                          "venues.lighter.oi_drop_pct,"
                                          "venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct,"
                                          "venues.lighter.oi_drop_pct-venues.binance.oi_drop_pct,"
                                          "venues.binance.liquidated_notional_usd,"
                                          "venues.hyperliquid.liquidated_notional_usd,"
                                          "venues.lighter.liquidated_notional_usd")),
        ("calibration", "bars", dict(metric=",".join([
            "stats.oct10.long_share_liquidated", "stats.oct10.liquidated_over_oi", "stats.oct10.oi_drop_pct_BTC",
            "stats.oct10.oi_drop_pct_ALT", "stats.oct10.depth1_collapse_pct_BTC",
            "stats.oct10.depth1_collapse_pct_ALT", "stats.funding.pre_shock_annual_pct",
            "stats.funding.post_shock_annual_pct", "stats.oct10.max_venue_drawdown_pct_BTC",
            "stats.oct10.max_venue_drawdown_pct_ALT", "stats.oct10.fundamental_drawdown_pct_ALT",
            "totals.adl_low_leverage_share"])))],
    "adl_wick": [("adl_wick", "bars", dict(x="shock.depth_pct.ALT", metric=",".join([
        "stats.adl_by_leverage.ALT.le2", "stats.adl_by_leverage.ALT.2to5", "stats.adl_by_leverage.ALT.5to10",
        "stats.adl_by_leverage.ALT.gt10", "stats.adl_by_leverage.ALT.notional_usd",
        "stats.oct10.max_venue_drawdown_pct_ALT"]))),
        ("adl_wick_paired", "paired", dict(x="shock.depth_pct.ALT", base="35", metric=",".join([
            "stats.adl_by_leverage.ALT.le2", "stats.adl_by_leverage.ALT.notional_usd",
            "totals.adl_low_leverage_share", "totals.bad_debt_usd"])))],
    "farming_fuse": [
        ("farming_fuse", "heatmap", dict(x="max_leverage", y="incentives.point_value_usd",
                                         metric="totals.liquidated_notional_usd,totals.adl_notional_usd,"
                                                "totals.broken_hedges,totals.bad_debt_usd")),
        ("farming_fuse_lines", "line", dict(x="max_leverage", by="incentives.point_value_usd",
                                            metric="totals.liquidated_notional_usd,totals.adl_notional_usd,"
                                                   "totals.broken_hedges,totals.bad_debt_usd")),
        # the points program's effect, seed by seed, at the cap where the cascade sets in and at the highest
        *[(f"farming_fuse_points_at_{lev}x", "paired", dict(
            x="incentives.point_value_usd", base="0", where={"max_leverage": lev},
            metric="totals.liquidated_notional_usd,totals.adl_notional_usd,totals.broken_hedges,"
                   "totals.bad_debt_usd,totals.peak_naked_notional_usd")) for lev in (10, 50)],
        # the cap's step from 3x to 10x, seed by seed, without points
        ("farming_fuse_cap_step", "paired", dict(
            x="max_leverage", base="3", where={"incentives.point_value_usd": 0.0},
            metric="totals.liquidated_notional_usd,totals.adl_notional_usd,totals.broken_hedges,"
                   "totals.bad_debt_usd"))],
    "halt_elsewhere": [
        ("halt_elsewhere", "bars", dict(x="halt", metric=",".join(
            [f"stats.shock_window.{v}.volume_usd" for v in ("binance", "hyperliquid", "lighter")]
            + [f"venues.{v}.liquidated_notional_usd" for v in ("binance", "hyperliquid", "lighter")]
            + ["totals.liquidated_notional_usd", "totals.adl_notional_usd", "totals.bad_debt_usd",
               "venues.binance.bad_debt_usd", "stats.oct10.synth_low"]))),
        ("halt_elsewhere_paired", "paired", dict(x="halt", base="none", metric=",".join(
            [f"stats.shock_window.{v}.volume_usd" for v in ("binance", "hyperliquid", "lighter")]
            + [f"venues.{v}.liquidated_notional_usd" for v in ("binance", "hyperliquid", "lighter")]
            + ["totals.liquidated_notional_usd", "totals.adl_notional_usd", "totals.broken_hedges",
               "totals.bad_debt_usd"])))],
    "venue_designs": [
        ("venue_designs", "paired", dict(x="venue_design", base="baseline", metric=",".join([
            "totals.bad_debt_usd", "totals.adl_notional_usd", "totals.adl_low_leverage_share",
            "venues.hyperliquid.adl_notional_usd", "venues.hyperliquid.bad_debt_usd",
            "venues.hyperliquid.vault_pnl_usd", "totals.insurance_paid_usd", "totals.backstop_notional_usd"]))),
        # the counterfactual split of ADL budgets on the baseline design, on the venues that had such events
        ("adl_counterfactuals", "bars", dict(where={"venue_design": "baseline"}, metric=",".join(
            f"adl_counterfactuals.{v}.{k}" for v in ("binance", "hyperliquid") for k in (
                "n_events", "budget_usd", "queue.largest_winner_usd", "pro_rata.largest_winner_usd",
                "queue.largest_winner_extra_usd", "capped_pro_rata.largest_winner_extra_usd",
                "queue.low_leverage_share", "pro_rata.low_leverage_share", "capped_pro_rata.low_leverage_share")))),
        ("adl_counterfactuals_no_backstop", "bars", dict(where={"venue_design": "no_backstop"}, metric=",".join(
            f"adl_counterfactuals.hyperliquid.{k}" for k in (
                "n_events", "budget_usd", "queue.largest_winner_extra_usd",
                "capped_pro_rata.largest_winner_extra_usd", "queue.low_leverage_share",
                "pro_rata.low_leverage_share"))))],
    "leverage_tails": [("leverage_tails", "line", dict(x="max_leverage", metric=",".join([
        f"{_RET}.BTC.kurtosis_venue", f"{_RET}.ALT.kurtosis_venue", f"{_RET}.BTC.abs_acf_mean_1_30_venue",
        f"{_RET}.ALT.abs_acf_mean_1_30_venue", "stats.liq_share_big_moves", "stats.liq_share_all",
        "totals.liquidated_notional_usd"]))),
        ("leverage_tails_paired", "paired", dict(x="max_leverage", base="1", metric=",".join([
            f"{_RET}.BTC.kurtosis_venue", f"{_RET}.ALT.kurtosis_venue", f"{_RET}.BTC.abs_acf_mean_1_30_venue",
            f"{_RET}.ALT.abs_acf_mean_1_30_venue", f"{_RET}.BTC.abs_acf1_venue", f"{_RET}.ALT.abs_acf1_venue"])))],
    "sobol": [("sobol", "sobol", dict(metric="totals.liquidated_notional_usd,totals.broken_hedges"))],
}


def study_figures(sweep_dir: str | Path, name: str, out_dir: str | Path | None = None) -> list[Path]:
    """Every figure of one experiment of the validation study (STUDY), with its CSV of numbers."""
    if name not in STUDY:
        raise PlotError(f"--study: expected one of {', '.join(STUDY)}, got {name!r}")
    _check_sweep(Path(sweep_dir))
    out_dir = Path(out_dir) if out_dir else Path(sweep_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    _DPI[0] = 80
    for fig_name, kind, kw in STUDY[name]:
        print(f"# {fig_name}")
        out = out_dir / fig_name
        if kind == "bars":
            paths += bars_plot(sweep_dir, kw["metric"], kw.get("x"), out, where=kw.get("where"))
        elif kind == "paired":
            paths += paired_plot(sweep_dir, kw["x"], kw["base"], kw["metric"], out, where=kw.get("where"))
        elif kind == "sobol":
            paths += sobol_plot(sweep_dir, kw["metric"], out)
        else:
            paths += sweep_plot(sweep_dir, kw["x"], kw["metric"], kw.get("y"), out, by=kw.get("by"))
    return paths
