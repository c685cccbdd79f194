"""A run's metrics, from the model's recorded series and the venues' running totals after the run: the totals
and per-venue figures (`compute_metrics`; the names are a public interface, documented in README "Metrics"),
price formation per venue and market (settled rule 13d), and the stylized facts and event-calibration figures
of the validation study (`validation_stats`, EXPERIMENTS.md)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fundamentals import shock_start
from venues.params import ASSETS
from venues.waterfall import ADL_LEVERAGE_BUCKETS

if TYPE_CHECKING:
    from model import CascadeModel


def compute_metrics(m: CascadeModel, wall_s: float, status: str = "ok") -> dict:
    """The run's metrics (names are a public interface, documented in the README)."""
    cfg = m.cfg
    t0 = min(shock_start(cfg), m.steps)
    T = m.steps
    totals = dict(liquidated_notional_usd=0.0, n_liquidations=0, n_accounts_liquidated=0, backstop_notional_usd=0.0,
                  insurance_paid_usd=0.0, adl_notional_usd=0.0, n_adl_fills=0, adl_low_leverage_share=0.0,
                  bad_debt_usd=0.0)
    low_lev_adl = 0.0
    venues = {}
    fund_dd = {a: _drawdown_pct(m.ts_fundamental[t0:T + 1, j]) for j, a in enumerate(ASSETS)}
    for vi, (name, v) in enumerate(m.venues.items()):
        w = v.waterfall   # running totals: the event log of a long run has gone to disk
        oi = m.ts_oi_usd[:, vi, :].sum(axis=1)
        oi_start = float(oi[t0])
        oi_min = float(oi[t0:T + 1].min())
        vd = dict(
            liquidated_notional_usd=w.liquidated_usd,
            adl_notional_usd=w.adl_usd,
            n_adl_fills=w.n_adl_fills,
            insurance_fund_start_usd=float(m.ts_insurance[t0, vi]),
            # the fund's USD plus what else it holds at the collateral oracle's value (SPEC 8.4, 8.7), and the split
            insurance_fund_end_usd=sum(v.insurance_fund_value()),
            insurance_fund_end_cash_usd=v.insurance_fund_value()[0],
            vault_pnl_usd=float(v.equity(v.vault) - v.params.backstop_vault_usd) if v.vault is not None else 0.0,
            vault_drawdown_pct=_vault_drawdown_pct(m.ts_vault_equity[t0:T + 1, vi], v.params.backstop_vault_usd)
            if v.vault is not None else None,
            bad_debt_usd=float(v.ch.bad_debt[0]),
            oi_start_usd=oi_start, oi_min_usd=oi_min,
            oi_drop_pct=100.0 * (1.0 - oi_min / oi_start) if oi_start > 0 else 0.0,
            markets={},
        )
        vd["maker_withdrawals"] = sum(len(mm.withdrawals) for mm in m.makers if mm.venue_name == name)
        for j, a in enumerate(ASSETS):
            dd = _drawdown_pct(m.ts_mid[t0:T + 1, vi, j])
            vd["markets"][a] = dict(max_drawdown_pct=dd,
                                    amplification=dd / fund_dd[a] if fund_dd[a] > 0 else float("nan"),
                                    **price_formation(m, vi, j, t0, T))
        venues[name] = vd
        totals["liquidated_notional_usd"] += w.liquidated_usd
        totals["n_liquidations"] += w.n_liquidations
        totals["n_accounts_liquidated"] += len(w.liquidated_accounts)
        totals["backstop_notional_usd"] += w.backstop_usd
        totals["insurance_paid_usd"] += w.insurance_paid_usd
        totals["adl_notional_usd"] += w.adl_usd
        totals["n_adl_fills"] += w.n_adl_fills
        totals["bad_debt_usd"] += vd["bad_debt_usd"]
        low_lev_adl += w.adl_low_leverage_usd
    if totals["adl_notional_usd"] > 0:
        totals["adl_low_leverage_share"] = low_lev_adl / totals["adl_notional_usd"]   # settled rule 11
    totals["adl_low_leverage_notional_usd"] = low_lev_adl
    marks = m.ts_mark[1:T + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        disl = (np.nanmax(marks, axis=1) / np.nanmin(marks, axis=1) - 1.0) * 100.0
    totals.update(broken_hedges=len(m.broken_log), peak_naked_notional_usd=float(m.ts_naked_usd.max()),
                  max_dislocation_pct=float(np.nanmax(disl)) if disl.size else 0.0,
                  conservation_error_rel=None if m.conservation_error_rel is None   # check_invariants=false
                  else float(m.conservation_error_rel))
    n_agents = len(m.agents)
    return dict(status=status, seed=cfg.seed, steps=T, n_agents=n_agents, wall_s=wall_s, totals=totals,
                venues=venues, stats=validation_stats(m))


def _excess_kurtosis(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if r.size < 10:
        return float("nan")
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d ** 4) / (m2 * m2) - 3.0) if m2 > 0 else float("nan")


def _acf(x: np.ndarray, lags) -> np.ndarray:
    """Sample autocorrelation at the given lags (NaN returns dropped first)."""
    x = x[np.isfinite(x)]
    out = np.full(len(lags), np.nan)
    if x.size < 3 * max(lags):
        return out
    d = x - x.mean()
    c0 = float(np.dot(d, d))
    if c0 <= 0:
        return out
    for i, lag in enumerate(lags):
        out[i] = float(np.dot(d[:-lag], d[lag:])) / c0
    return out


ACF_LAGS = tuple(range(1, 31))
ACF_REPORTED = (1, 5, 10, 30)


def validation_stats(m: CascadeModel) -> dict:
    """Stylized facts and event-calibration figures of one run (EXPERIMENTS.md). Returns are one-minute log
    returns of each venue's perp mid after the warm-up; flows are per-minute differences of running totals."""
    cfg = m.cfg
    T = m.steps
    w0 = min(cfg.warmup_minutes, T)
    t0 = min(shock_start(cfg), T)
    V = len(m.venue_names)
    out: dict = {"returns": {}, "oct10": {}, "adl_by_leverage": {}}
    with np.errstate(invalid="ignore", divide="ignore"):
        logmid = np.log(m.ts_mid[w0:T + 1])                     # (t, venue, asset)
        r = np.diff(logmid, axis=0)
        rf = np.diff(np.log(m.ts_fundamental[w0:T + 1]), axis=0)
    for j, a in enumerate(ASSETS):
        kv = [_excess_kurtosis(r[:, vi, j]) for vi in range(V)]
        acf_raw = np.array([_acf(r[:, vi, j], (1,))[0] for vi in range(V)])
        acf_abs = np.array([_acf(np.abs(r[:, vi, j]), ACF_LAGS) for vi in range(V)])   # (venue, lag)
        fund_abs = _acf(np.abs(rf[:, j]), ACF_LAGS)
        d = dict(kurtosis_venue=float(np.nanmean(kv)) if np.isfinite(kv).any() else float("nan"),
                 kurtosis_fundamental=_excess_kurtosis(rf[:, j]),
                 acf1_venue=float(np.nanmean(acf_raw)) if np.isfinite(acf_raw).any() else float("nan"),
                 acf1_fundamental=float(_acf(rf[:, j], (1,))[0]))
        with np.errstate(invalid="ignore"):
            mean_abs = np.nanmean(acf_abs, axis=0) if np.isfinite(acf_abs).any() else np.full(len(ACF_LAGS), np.nan)
        for lag in ACF_REPORTED:
            d[f"abs_acf{lag}_venue"] = float(mean_abs[lag - 1])
            d[f"abs_acf{lag}_fundamental"] = float(fund_abs[lag - 1])
        d["abs_acf_positive_share"] = float(np.mean(mean_abs > 0)) if np.isfinite(mean_abs).all() else float("nan")
        d["abs_acf_mean_1_30_venue"] = float(np.mean(mean_abs))
        d["abs_acf_mean_1_30_fundamental"] = float(np.mean(fund_abs))
        out["returns"][a] = d
    # funding: the stored rate is per hour (the last interval's, held until the next); reported per 8 hours
    # (bps) and annualised (%), counting each venue from its first payment on
    f8, pre, post = [], [], []
    for vi, v in enumerate(m.venues.values()):
        first = int(round(v.params.funding_interval_hours * 60))
        rate = m.ts_funding_hour[:, vi, :]                       # (t, asset)
        f8.append(rate[max(w0, first):T + 1].ravel() * 8.0 * 1e4)
        pre.append(rate[max(first, t0 - 60):t0].ravel())
        post.append(rate[max(first, t0 + 60):T + 1].ravel())
    f8 = np.concatenate(f8)
    pre = np.concatenate(pre) * 24 * 365 * 100.0
    post = np.concatenate(post) * 24 * 365 * 100.0
    nan = float("nan")
    out["funding"] = dict(median_8h_bps=float(np.median(f8)) if f8.size else nan,
                          p99_abs_8h_bps=float(np.percentile(np.abs(f8), 99)) if f8.size else nan,
                          max_abs_8h_bps=float(np.abs(f8).max()) if f8.size else nan,
                          baseline_share=float(np.mean(np.abs(f8 - 1.0) <= 0.25)) if f8.size else nan,
                          pre_shock_annual_pct=float(pre.mean()) if pre.size else nan,
                          post_shock_annual_pct=float(post.mean()) if post.size else nan)
    # venues' marks within the arbitrage band of each other
    gaps = []
    for u in range(V):
        for w in range(u + 1, V):
            with np.errstate(invalid="ignore", divide="ignore"):
                gaps.append(np.abs(m.ts_mark[w0:T + 1, u] / m.ts_mark[w0:T + 1, w] - 1.0).ravel())
    g = np.concatenate(gaps) if gaps else np.zeros(0)
    g = g[np.isfinite(g)]
    p = cfg.arbitrageurs
    band = max(v.fee_taker for v in m.venues.values()) + (p.outside_fee_bps + p.threshold_bps) * 1e-4
    out["venue_gap_p95_pct"] = float(np.percentile(g, 95) * 100.0) if g.size else float("nan")
    out["venue_gap_median_pct"] = float(np.median(g) * 100.0) if g.size else float("nan")
    out["arb_band_pct"] = float(2.0 * band * 100.0)
    # the cascade against the event's figures
    liq = m.ts_liq_cum[T].sum()
    oi0 = m.ts_oi_usd[t0]                                       # (venue, asset)
    o = out["oct10"]
    o["long_share_liquidated"] = float(m.ts_liq_long_cum[T].sum() / liq) if liq > 0 else float("nan")
    o["liquidated_over_oi"] = float(liq / oi0.sum()) if oi0.sum() > 0 else float("nan")
    for j, a in enumerate(ASSETS):
        oi = m.ts_oi_usd[t0:T + 1, :, j].sum(axis=1)
        o[f"oi_drop_pct_{a}"] = float(100.0 * (1.0 - oi.min() / oi[0])) if oi[0] > 0 else float("nan")
        dep = m.ts_depth1[t0:T + 1, :, j]                       # (t, venue)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = dep.min(axis=0) / dep[0]
        o[f"depth1_collapse_pct_{a}"] = float(100.0 * (1.0 - dep.sum(axis=1).min() / dep[0].sum())) \
            if dep[0].sum() > 0 else float("nan")
        o[f"depth1_collapse_worst_venue_pct_{a}"] = float(100.0 * (1.0 - np.nanmin(ratio))) \
            if np.isfinite(ratio).any() else float("nan")
        o[f"max_venue_drawdown_pct_{a}"] = max(_drawdown_pct(m.ts_mid[t0:T + 1, vi, j]) for vi in range(V))
        o[f"fundamental_drawdown_pct_{a}"] = _drawdown_pct(m.ts_fundamental[t0:T + 1, j])
        byb = sum(v.waterfall.adl_usd_by_bucket[j] for v in m.venues.values())
        tot = float(byb.sum())
        out["adl_by_leverage"][a] = {b: (float(byb[i] / tot) if tot > 0 else float("nan"))
                                     for i, b in enumerate(ADL_LEVERAGE_BUCKETS)}
        out["adl_by_leverage"][a]["notional_usd"] = tot
    synth = m.ts_synth_mid[t0:T + 1]
    o["synth_low"] = float(np.nanmin(synth)) if np.isfinite(synth).any() else float("nan")
    # where the selling went: perp volume and liquidations per venue in the two hours from the shock
    t1 = min(T, t0 + 120)
    out["shock_window"] = {name: dict(volume_usd=float((m.ts_volume_cum[t1, vi] - m.ts_volume_cum[t0, vi]).sum()),
                                      liquidated_usd=float((m.ts_liq_cum[t1, vi] - m.ts_liq_cum[t0, vi]).sum()))
                           for vi, name in enumerate(m.venue_names)}
    # liquidation flow's share of book volume in the largest one-minute moves (top 1% of |return| per venue
    # and asset) against its share over all minutes (book-stage closes only: backstop and ADL do not trade)
    liq_f = np.diff(m.ts_liq_book_cum[w0:T + 1], axis=0)
    vol_f = np.diff(m.ts_volume_cum[w0:T + 1], axis=0)
    big_l = big_v = 0.0
    for vi in range(V):
        for j in range(len(ASSETS)):
            x = np.abs(r[:, vi, j])
            ok = np.isfinite(x)
            if ok.sum() < 100:
                continue
            cut = np.percentile(x[ok], 99)
            sel = ok & (x >= cut)
            big_l += float(liq_f[sel, vi, j].sum())
            big_v += float(vol_f[sel, vi, j].sum())
    out["liq_share_big_moves"] = big_l / big_v if big_v > 0 else float("nan")
    out["liq_share_all"] = float(liq_f.sum() / vol_f.sum()) if vol_f.sum() > 0 else float("nan")
    return out


RECOVERY_BAND_PCT = {"BTC": 3.0, "ALT": 10.0}
"""A venue has recovered once its last trade is back within this of the fundamental, percent."""


def price_formation(m: CascadeModel, vi: int, j: int, t0: int, T: int) -> dict:
    """Settled rule 13d for one venue and perp market, from the shock's start (calm: the warm-up's end) to the
    end: drawdown to the lowest book trade and to the lowest mark, both from the fundamental at the start (as
    `../shared/checks/trades.py` reads them), the cascade multiplier (lowest-trade drawdown over the
    fundamental's), and the minutes from the fundamental's low until the last trade is back within
    RECOVERY_BAND_PCT of the fundamental (null if never)."""
    f = m.ts_fundamental[t0:T + 1, j]
    f0 = float(f[0]) if f.size else math.nan
    low = m.ts_low[t0:T + 1, vi, j]
    trade_dd = 100.0 * (1.0 - float(np.nanmin(low)) / f0) if np.isfinite(low).any() else math.nan
    mark_dd = 100.0 * (1.0 - float(np.nanmin(m.ts_mark[t0:T + 1, vi, j])) / f0) if f.size else math.nan
    fund_dd = 100.0 * (1.0 - float(f.min()) / f0) if f.size else math.nan
    # the last trade price carried forward over minutes without a trade
    close = m.ts_close[t0:T + 1, vi, j]
    idx = np.where(np.isfinite(close), np.arange(close.size), 0)
    np.maximum.accumulate(idx, out=idx)
    last = close[idx]
    f_low = int(np.argmin(f)) if f.size else 0
    band = RECOVERY_BAND_PCT.get(ASSETS[j], 3.0) / 100.0
    ok = np.flatnonzero(np.abs(last[f_low:] / f[f_low:] - 1.0) <= band)
    return dict(trade_drawdown_pct=trade_dd, mark_drawdown_pct=mark_dd,
                cascade_multiplier=trade_dd / fund_dd if fund_dd > 0 else math.nan,
                recovery_minutes=float(ok[0]) if ok.size else None)


def _drawdown_pct(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0 or x[0] <= 0:
        return 0.0
    return float(100.0 * (1.0 - x.min() / x[0]))


def _vault_drawdown_pct(equity: np.ndarray, capital: float) -> float:
    """The backstop vault's largest loss from its starting capital over the window (its equity at mark each
    minute), percent of that capital; 0 when it never fell below it."""
    e = np.asarray(equity, dtype=float)
    e = e[np.isfinite(e)]
    if e.size == 0 or capital <= 0:
        return 0.0
    return float(max(0.0, 100.0 * (1.0 - e.min() / capital)))

