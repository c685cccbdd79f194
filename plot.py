"""Figures from saved results only (matplotlib's Agg backend; PNG and PDF).

    python plot.py RUN_DIR                                      the run's dashboard
    python plot.py SWEEP_DIR --x KEY --metric NAME              a line: seed mean with a 95% confidence band
    python plot.py SWEEP_DIR --x KEY --y KEY --metric NAME      a heatmap of the seed mean
    python plot.py SWEEP_DIR --x KEY --by KEY --metric NAME     a line per value of a second key
    python plot.py SWEEP_DIR --bars [--x KEY] --metric A,B,...  bars of seed means with 95% intervals
    python plot.py SWEEP_DIR --x KEY --paired BASE --metric A   paired differences from x = BASE, seed by seed
    python plot.py SWEEP_DIR --sobol --metric A,B               Sobol indices (experiment=sobol, SALib)
    python plot.py SWEEP_DIR --study NAME --out docs/figures     every figure of a validation experiment

RUN_DIR holds timeseries.parquet and metrics.json (one run); SWEEP_DIR holds summary.parquet (or the jobs'
folders, from which the summary is built first). KEY is a swept override (e.g. max_leverage) and NAME a
metric's dotted name (e.g. totals.liquidated_notional_usd); --metric takes a comma-separated list, one panel
each; `A-B` is the row-by-row difference of two metrics of the same run (files named `a_minus_b`). Figures
go next to the data unless --out says; every sweep figure also writes its numbers (mean, 95% interval and its
method, number of seeds per cell) to a .csv of the same name and prints them.

Intervals: a Student-t 95% interval of the seed mean, clipped to the range the metric can take (RANGES: a
non-negative amount never below 0, a share within [0, 1], a percent fall within [0, 100]); the CSV's
`interval` column names the method and range. With fewer than 3 seeds in a cell no interval is drawn, the
CSV's ci_low and ci_high are empty and the figure says so ("n=2: no interval"). Heatmap colours start at 0
when the means are all >= 0 (a diverging scale symmetric about 0 otherwise); the colour bar says which.
Bad input (a folder that is not a sweep, a misspelt metric or key, with the closest columns) is refused with
one line and exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sweeps import MANIFEST, aggregate  # noqa: E402
from venues.params import ConfigError  # noqa: E402

# readable labels with units for the metrics and keys users plot most
LABELS = {
    "totals.liquidated_notional_usd": "Liquidated notional (USD)",
    "totals.adl_notional_usd": "ADL notional (USD)",
    "totals.bad_debt_usd": "Bad debt (USD)",
    "totals.broken_hedges": "Broken hedges (farmers)",
    "totals.peak_naked_notional_usd": "Peak naked notional (USD)",
    "totals.n_accounts_liquidated": "Accounts liquidated",
    "totals.adl_low_leverage_share": "ADL notional on accounts at <= 2x (share)",
    "totals.max_dislocation_pct": "Largest gap between venues' marks (%)",
    "max_leverage": "Max leverage, every venue (x)",
    "incentives.point_value_usd": "Point value (USD)",
    "transfers.delay_minutes": "Transfer delay (minutes)",
    "seed": "Seed",
}


_DROP = {"totals", "stats", "venues", "returns", "oct10", "markets", "adl_counterfactuals"}


def label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    if "-" in key and not key.startswith("-"):
        a, _, b = key.partition("-")
        return f"{label(a)} minus {label(b)}"
    unit = " (USD)" if key.endswith("_usd") else " (%)" if key.endswith("_pct") else ""
    parts = [p for p in key.split(".")[:-1] if p not in _DROP] + [key.split(".")[-1]]
    text = " ".join(parts).replace("_", " ").removesuffix(" usd").removesuffix(" pct")
    text = " ".join("OI" if w == "oi" else "ADL" if w == "adl" else w for w in text.split(" "))
    return text[:1].upper() + text[1:] + unit


_DPI = [110]   # the study's figures are drawn at 80 (committed under docs/figures, kept small)


def _save(fig, path: Path) -> list[Path]:
    out = []
    path.parent.mkdir(parents=True, exist_ok=True)
    for ext in (".png", ".pdf"):
        p = path.with_suffix(ext)
        tmp = p.with_name(f".{p.name}.tmp")
        fig.savefig(tmp, dpi=_DPI[0], bbox_inches="tight", format=ext[1:])
        tmp.replace(p)
        out.append(p)
    plt.close(fig)
    return out


# ---------------------------------------------------------------------------------------------- one run
STAGES = (("book", 1), ("backstop", 2), ("ADL", 3), ("bad-debt close", 4))
"""Liquidation closes by stage: the info code of 'liquidation' events (venues/waterfall.py STAGE_*)."""


def _shock_window(cfg: dict, steps: int) -> tuple[int, int]:
    """Minutes the dashboard zooms on: from half an hour before the shock to four hours after (oct10), or the
    whole run after the warm-up (calm)."""
    warm = int(cfg.get("warmup_minutes", 120))
    shock = cfg.get("shock") or {}
    if cfg.get("scenario") != "oct10":
        return warm, steps
    start = shock.get("start_minute")
    start = int(start) if start is not None else warm + 60
    return max(1, start - 30), min(steps, start + 240)


def dashboard(run_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """The run's dashboard from its saved files: the shock's hours zoomed, with each venue's range of book trades
    per minute and its mark against the fundamental (both assets); the whole run's marks; open interest;
    liquidations and ADL per minute; each venue's liquidated notional by stage (book, backstop, ADL, bad debt)
    with the insurance fund's payments; insurance fund and vault capital; farmers' naked notional."""
    import json

    import yaml
    run = Path(run_dir)
    ts = pd.read_parquet(run / "timeseries.parquet")
    ts = ts[ts["step"] >= 1]   # step 0 is the state before the first minute (funds not yet recorded)
    metrics = json.loads((run / "metrics.json").read_text())
    cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").exists() else {}
    venues = list(dict.fromkeys(ts["venue"]))
    assets = list(dict.fromkeys(ts["asset"]))
    hours = lambda s: s / 60.0  # noqa: E731
    fig, axes = plt.subplots(5, 2, figsize=(13, 18), constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    w0, w1 = _shock_window(cfg or {}, int(ts["step"].max()))
    for j, a in enumerate(assets):
        ax = axes[0, j]
        one = ts[(ts["asset"] == a) & (ts["venue"] == venues[0]) & ts["step"].between(w0, w1)]
        ax.plot(hours(one["step"]), one["fundamental"], color="black", lw=1.6, label="fundamental")
        for c, v in zip(colors, venues):
            d = ts[(ts["asset"] == a) & (ts["venue"] == v) & ts["step"].between(w0, w1)]
            if "low" in d and d["low"].notna().any():
                ax.vlines(hours(d["step"]), d["low"], d["high"], color=c, lw=1.2, alpha=0.6,
                          label=f"{v} trades (minute's range)")
            ax.plot(hours(d["step"]), d["mark"], color=c, lw=0.8, ls="--", label=f"{v} mark")
        ax.set_title(f"{a}: book trades and marks against the fundamental (the shock's hours)")
        ax.set_xlabel("time (hours)")
        ax.set_ylabel(f"{a} price (USD)")
        ax.legend(fontsize=7)
        ax = axes[1, j]
        one = ts[(ts["asset"] == a) & (ts["venue"] == venues[0])]
        ax.plot(hours(one["step"]), one["fundamental"], color="black", lw=1.6, label="fundamental")
        for c, v in zip(colors, venues):
            d = ts[(ts["asset"] == a) & (ts["venue"] == v)]
            ax.plot(hours(d["step"]), d["mark"], color=c, lw=0.9, label=f"{v} mark")
        ax.set_title(f"{a}: venue marks against the fundamental (the whole run)")
        ax.set_xlabel("time (hours)")
        ax.set_ylabel(f"{a} price (USD)")
        ax.legend(fontsize=8)
    ax = axes[2, 0]
    for c, v in zip(colors, venues):
        d = ts[ts["venue"] == v].groupby("step")["oi_usd"].sum()
        ax.plot(hours(d.index.to_numpy()), d.to_numpy() / 1e6, color=c, label=v)
    ax.set_title("Open interest (both assets, at mark)")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("open interest (USD million)")
    ax.legend(fontsize=8)
    ax = axes[2, 1]
    first = ts[ts["asset"] == assets[0]]
    for c, v in zip(colors, venues):
        d = first[first["venue"] == v]
        ax.plot(hours(d["step"]), d["venue_liquidated_usd"] / 1e6, color=c, lw=0.9, label=f"{v} liquidated")
        ax.plot(hours(d["step"]), d["venue_adl_usd"] / 1e6, color=c, lw=0.9, ls="--", label=f"{v} ADL")
    ax.set_title("Liquidations (solid) and ADL (dashed) per minute")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("notional per minute (USD million)")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[3, 0]
    stages = {v: {name: 0.0 for name, _ in STAGES} for v in venues}
    paid = {v: 0.0 for v in venues}
    if (run / "events.parquet").exists():
        ev = pd.read_parquet(run / "events.parquet", columns=["venue", "kind", "info", "notional"])
        liq = ev[ev["kind"] == "liquidation"]
        for (v, code), x in liq.groupby(["venue", "info"])["notional"].sum().items():
            for name, c in STAGES:
                if v in stages and int(code) == c:
                    stages[v][name] += float(x) / 1e6
        for v, x in ev[ev["kind"] == "insurance"].groupby("venue")["notional"].sum().items():
            if v in paid:
                paid[v] = float(x) / 1e6
    bottom = np.zeros(len(venues))
    for name, _ in STAGES:
        vals = np.array([stages[v][name] for v in venues])
        ax.bar(venues, vals, bottom=bottom, label=name)
        bottom += vals
    for i, v in enumerate(venues):
        ax.annotate(f"fund paid ${paid[v]:,.2f}M", (i, bottom[i]), ha="center", va="bottom", fontsize=7)
    ax.set_title("Liquidated notional by stage, per venue")
    ax.set_ylabel("USD million")
    ax.legend(fontsize=8)
    ax = axes[3, 1]
    for c, v in zip(colors, venues):
        d = first[first["venue"] == v]
        if d["insurance_fund_usd"].abs().sum() > 0:
            ax.plot(hours(d["step"]), d["insurance_fund_usd"] / 1e6, color=c, label=f"{v} insurance fund")
        if d["vault_equity_usd"].abs().sum() > 0:
            ax.plot(hours(d["step"]), d["vault_equity_usd"] / 1e6, color=c, ls="--", label=f"{v} vault equity")
    ax.set_title("Insurance funds (solid) and backstop vaults (dashed)")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("USD million")
    ax.legend(fontsize=8)
    ax = axes[4, 0]
    d = first[first["venue"] == venues[0]]
    ax.plot(hours(d["step"]), d["naked_notional_usd"] / 1e6, color="tab:red", label="farmers' naked notional")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("naked notional (USD million)")
    ax.set_title("Broken hedges: farmers' unhedged notional")
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[4, 1]
    if d["synth_mid"].notna().any():
        ax.plot(hours(d["step"]), d["synth_mid"], color="tab:purple", lw=0.8, label="synthetic dollar (CEX spot)")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title("The synthetic dollar's spot mid")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("price (USD)")
    t = metrics.get("totals", {})
    fig.suptitle(f"{cfg.get('scenario', '') if cfg else ''} seed {metrics.get('seed')}, {metrics.get('steps')} minutes: "
                 f"liquidated ${(t.get('liquidated_notional_usd') or 0) / 1e6:,.1f}M, "
                 f"ADL ${(t.get('adl_notional_usd') or 0) / 1e6:,.1f}M, "
                 f"bad debt ${(t.get('bad_debt_usd') or 0) / 1e6:,.2f}M, broken hedges {t.get('broken_hedges', 0)}")
    return _save(fig, Path(out) if out else run / "dashboard")


# ---------------------------------------------------------------------------------------------- sweeps
class PlotError(ValueError):
    """Bad input to plot.py (an unknown column, a folder that is not a sweep, ...): one line naming the option
    and what is allowed. `main` prints it as `error: ...` and exits with status 2, as run.py does."""


def _is_sweep(root: Path) -> bool:
    """A sweep's folder: its summary, its manifest (sweeps.py's sweep.json) or a job folder with a metrics.json."""
    return (root / "summary.parquet").exists() or (root / MANIFEST).exists() or any(root.glob("*/metrics.json"))


def _check_sweep(root: Path) -> None:
    if not _is_sweep(root):
        what = "a single run's folder, not a sweep's" if (root / "metrics.json").exists() else "not a sweep's folder"
        raise PlotError(f"{root}: {what} (no summary.parquet and no job folder with a metrics.json)")


def load_summary(sweep_dir: str | Path) -> pd.DataFrame:
    """The sweep's summary table: summary.parquet, or built from the jobs' folders first (sweeps.aggregate). A
    folder that is not a sweep is refused before anything is written into it."""
    root = Path(sweep_dir)
    _check_sweep(root)
    path = root / "summary.parquet"
    if not path.exists():
        try:
            return aggregate(root)
        except ConfigError as e:   # aggregate's one-line refusal (e.g. not a sweep's folder)
            raise PlotError(str(e)) from None
    return pd.read_parquet(path)


# What values a metric can take, decided from its name: the first rule whose pattern is found in the metric's
# dotted name gives the range; a name no rule matches is unbounded. Intervals are clipped to the range (a
# non-negative amount's interval never goes below 0, a percent fall never leaves [0, 100]) and a heatmap's
# colour scale starts at 0 when the range (or else the data) has no negative values. A value seen in the data
# outside its range widens the range: clipping never hides an observed value. For `A-B` the range is
# [low(A) - high(B), high(A) - low(B)]; for a paired difference of one metric, [low - high, high - low].
RANGES: list[tuple[str, tuple[float, float], str]] = [
    (r"pnl", (-math.inf, math.inf), "profit and loss (vault_pnl_usd): either sign"),
    (r"_extra_usd$", (-math.inf, math.inf), "largest_winner_extra_usd: one ADL rule less another"),
    (r"kurtosis_", (-2.0, math.inf), "excess kurtosis is at least -2"),
    (r"acf\d*_(venue|fundamental)$|acf_mean_", (-1.0, 1.0), "autocorrelations"),
    (r"median_8h_bps$|_annual_pct$", (-math.inf, math.inf), "funding rates: either sign"),
    (r"_share($|_)|adl_by_leverage\.\w+\.(le2|2to5|5to10|gt10)$", (0.0, 1.0), "shares of a whole"),
    (r"oi_drop_pct|drawdown_pct|collapse\w*_pct|(^|\.)cap_pct$", (0.0, 100.0),
     "percent falls from a starting level (open interest, prices, depth)"),
    (r"_usd$|_pct$|_bps$|(^|\.)n_|broken_hedges$|amplification$|liquidated_over_oi$|synth_low$|(^|\.)wall_s$"
     r"|conservation_error_rel$|(^|\.)(steps|seed)$", (0.0, math.inf),
     "amounts in USD (notional, bad debt, funds, volumes), counts, gaps, bands, |funding|, ratios, prices"),
]


def metric_range(key: str) -> tuple[float, float]:
    """The values `key` (a metric's dotted name, or `A-B`) can take, from RANGES."""
    import re
    if "-" in key and not key.startswith("-"):
        a, _, b = key.partition("-")
        (la, ha), (lb, hb) = metric_range(a), metric_range(b)
        return la - hb, ha - lb
    for pattern, rng, _ in RANGES:
        if re.search(pattern, key):
            return rng
    return -math.inf, math.inf


def _diff_range(key: str) -> tuple[float, float]:
    lo, hi = metric_range(key)
    return lo - hi, hi - lo


MIN_N = 3   # fewer finite values than this: no interval (the CSV's ci_low and ci_high are empty)


def _bound(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else _fmt(float(v))


def interval(x, bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float, float, str, int]:
    """(mean, low, high, method, n) of the finite values of `x`: the mean with a Student-t 95% interval,
    clipped to `bounds` (widened to the data); with fewer than MIN_N values no interval (low = high = NaN)
    and the method says so."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, "none (n=0)", 0
    mean = float(x.mean())
    if n < MIN_N:
        return mean, math.nan, math.nan, f"none (n={n})", n
    from scipy import stats
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))
    lo_b, hi_b = min(bounds[0], float(x.min())), max(bounds[1], float(x.max()))
    method = "t 95%"
    if lo_b > -math.inf or hi_b < math.inf:
        method += f" clipped to [{_bound(lo_b)}, {_bound(hi_b)}" + (")" if hi_b == math.inf else "]")
    return mean, max(mean - half, lo_b), min(mean + half, hi_b), method, n


def _ci95(x, bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float, float]:
    """(mean, low, high) of `interval`."""
    return interval(x, bounds)[:3]


def _no_interval_note(ns: list[int]) -> str | None:
    """The figure's note for points drawn without an interval (n < MIN_N), e.g. 'n=1: no interval'."""
    small = sorted({n for n in ns if 0 < n < MIN_N})
    if not small:
        return None
    text = f"n={small[0]}" if len(small) == 1 else f"n={small[0]}-{small[-1]}"
    return text + ": no interval" + ("" if all(n < MIN_N for n in ns) else " where none is drawn")


def _note(ax, ns: list[int]) -> None:
    text = _no_interval_note(ns)
    if text:
        ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=7, color="dimgray")


def _interval_title(ns: list[int]) -> str:
    """What the figure's intervals are, for its title."""
    if all(n < MIN_N for n in ns):
        return f"no intervals (fewer than {MIN_N} values per point)"
    return (f"95% t-intervals clipped to each metric's range" +
            (f", none where n < {MIN_N}" if any(n < MIN_N for n in ns) else ""))


def _seeds(lo: int, hi: int) -> str:
    return (f"{lo} seed" if lo == 1 else f"{lo} seeds") if lo == hi else f"{lo}-{hi} seeds"


def _missing(df: pd.DataFrame, key: str, option: str) -> str:
    import difflib
    close = difflib.get_close_matches(key, [str(c) for c in df.columns], n=3, cutoff=0.6)
    hint = f"closest: {', '.join(close)}" if close else \
        f"no column is close (the {len(df.columns)} columns are in the sweep's summary.csv)"
    return f"{option} {key!r}: not a column of the sweep's summary; {hint}"


def _ok(df: pd.DataFrame, keys: list[str] | dict[str, str], where: dict | None = None) -> pd.DataFrame:
    """The successful jobs (those whose columns have the values in `where`); a key `A-B` (two columns) is added
    as their row-by-row difference (a paired comparison of two metrics of the same run, e.g. two venues'
    open-interest drops). `keys` maps each key to the option that named it (for the error of a misspelt one)."""
    if not isinstance(keys, dict):
        keys = {k: "--metric" for k in keys}
    keys = dict(keys) | {k: "where" for k in (where or {})}
    for key, option in keys.items():
        if key in df.columns:
            continue
        if "-" in key and not key.startswith("-"):
            a, _, b = key.partition("-")
            for part in (a, b):
                if part not in df.columns:
                    raise PlotError(_missing(df, part, f"{option} {key!r}:"))
            df = df.assign(**{key: df[a].astype(float) - df[b].astype(float)})
        else:
            raise PlotError(_missing(df, key, option))
    if "status" in df.columns:
        n = len(df)
        df = df[df["status"] == "ok"]
        if df.empty:
            raise PlotError(f"no successful job in the sweep ({n} jobs, none with status ok)")
    for k, v in (where or {}).items():
        kept = df[df[k].map(_fmt) == _fmt(v)]
        if kept.empty:
            raise PlotError(f"where {k}={_fmt(v)}: no successful job has it; values: "
                            f"{', '.join(_fmt(u) for u in _levels(df[k]))}")
        df = kept
    return df


def _levels(col: pd.Series) -> list:
    """A column's values in sweep order (numbers sorted, text as first seen)."""
    vals = list(pd.unique(col.dropna()))
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in vals):
        return sorted(vals)
    return vals


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def _slug(key: str) -> str:
    """A key's part of a file name: its last dotted part; `A-B` is `a_minus_b`, with as many trailing parts of
    each as tell them apart (venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct:
    hyperliquid_oi_drop_pct_minus_binance_oi_drop_pct)."""
    if "-" in key and not key.startswith("-"):
        a, _, b = key.partition("-")
        pa, pb = a.split("."), b.split(".")
        k = 1
        while k < max(len(pa), len(pb)) and pa[-k:] == pb[-k:]:
            k += 1
        return f"{'_'.join(pa[-k:])}_minus_{'_'.join(pb[-k:])}"
    return key.split(".")[-1]


def _name(metrics: list[str]) -> str:
    return _slug(metrics[0]) + (f"_and_{len(metrics) - 1}_more" if len(metrics) > 1 else "")


def _grid(n: int, w: float = 5.2, h: float = 3.6):
    cols = 1 if n == 1 else 2 if n <= 4 else 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), constrained_layout=True, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _write_table(rows: list[dict], path: Path) -> Path:
    df = pd.DataFrame(rows)
    out = path.with_suffix(".csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(out)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return out


def _metrics(metric: str) -> list[str]:
    out = [m.strip() for m in metric.split(",") if m.strip()]
    if not out:
        raise PlotError(f"--metric {metric!r}: expected one metric's dotted name or several separated by commas")
    return out


def _errs(means: list[float], los: list[float], his: list[float]):
    """Positions with an interval and their (below, above) error lengths."""
    m, lo, hi = (np.asarray(v, dtype=float) for v in (means, los, his))
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(m)
    return ok, np.vstack([m - lo, hi - m])[:, ok]


def sweep_plot(sweep_dir: str | Path, x: str, metric: str, y: str | None = None,
               out: str | Path | None = None, by: str | None = None) -> list[Path]:
    """Per metric, a line of the seed mean with a 95% band over `x` (one per value of `by`), or with `y` a
    heatmap of the seed mean."""
    metrics = _metrics(metric)
    keys = {x: "--x"} | {m: "--metric" for m in metrics} | ({y: "--y"} if y else {}) | ({by: "--by"} if by else {})
    df = _ok(load_summary(sweep_dir), keys)
    root = Path(sweep_dir)
    name = _name(metrics)
    rows = []
    if y is None:
        fig, axes = _grid(len(metrics))
        groups = [(None, df)] if by is None else [(b, df[df[by] == b]) for b in _levels(df[by])]
        for ax, met in zip(axes, metrics):
            ns_ax = []
            for b, g in groups:
                cells = []
                for xv in _levels(g[x]):
                    vals = g.loc[g[x] == xv, met].to_numpy(dtype=float)
                    mean, lo, hi, method, n = interval(vals, metric_range(met))
                    cells.append((xv, mean, lo, hi, n))
                    ns_ax.append(n)
                    fin = vals[np.isfinite(vals)]
                    rows.append({"metric": met, x: xv, **({by: b} if by else {}), "mean": mean, "ci_low": lo,
                                 "ci_high": hi, "interval": method,
                                 "median": float(np.median(fin)) if fin.size else math.nan, "n": n})
                xs = [c[0] for c in cells]
                band = any(np.isfinite(c[2]) for c in cells)
                lab = "95% t-interval over seeds" if by is None else f"{label(by)} = {_fmt(b)}"
                ax.plot(xs, [c[1] for c in cells], marker="o", label=None if by is None else lab)
                if band:
                    ax.fill_between(xs, [c[2] for c in cells], [c[3] for c in cells], alpha=0.25,
                                    label=lab if by is None else None)
            ax.set_xlabel(label(x))
            ax.set_ylabel(label(met))
            _note(ax, ns_ax)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        ns = [r["n"] for r in rows]
        fig.suptitle(f"Mean of {_seeds(min(ns), max(ns))}; {_interval_title(ns)}", fontsize=10)
        path = Path(out) if out else root / f"line_{name}_by_{_slug(x)}"
        _write_table(rows, path)
        return _save(fig, path)
    from matplotlib.colors import Normalize
    fig, axes = _grid(len(metrics), w=5.6, h=4.2)
    for ax, met in zip(axes, metrics):
        xs, ys = _levels(df[x]), _levels(df[y])
        vals = np.full((len(ys), len(xs)), np.nan)
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                v = df.loc[(df[x] == xv) & (df[y] == yv), met].to_numpy(dtype=float)
                mean, lo, hi, method, n = interval(v, metric_range(met))
                vals[i, j] = mean
                rows.append({"metric": met, x: xv, y: yv, "mean": mean, "ci_low": lo, "ci_high": hi,
                             "interval": method, "n": n})
        # the colour scale starts at 0 for a metric that cannot be negative (or whose means are all >= 0), so
        # that colours compare as the numbers do; a signed metric gets a diverging scale symmetric about 0
        fin = vals[np.isfinite(vals)]
        top = float(np.abs(fin).max()) if fin.size else 0.0
        top = top if top > 0 else 1.0
        if (fin >= 0).all():
            norm, cmap, scale = Normalize(0.0, top), "magma", "colour scale from 0"
            dark = lambda u: u < 0.5  # noqa: E731
        else:
            norm, cmap, scale = Normalize(-top, top), "RdBu_r", "colour scale symmetric about 0"
            dark = lambda u: abs(u - 0.5) > 0.3  # noqa: E731
        im = ax.imshow(vals, origin="lower", aspect="auto", cmap=cmap, norm=norm)
        ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
        ax.set_xlabel(label(x))
        ax.set_ylabel(label(y))
        for (i, j), v in np.ndenumerate(vals):
            if np.isfinite(v):
                txt = f"{v / 1e6:.1f}M" if abs(v) >= 1e5 else f"{v / 1e3:.1f}k" if abs(v) >= 1e3 else f"{v:.3g}"
                ax.text(j, i, txt, ha="center", va="center",
                        color="white" if dark(float(norm(v))) else "black", fontsize=8)
        ax.set_title(label(met), fontsize=9)
        fig.colorbar(im, ax=ax, label=f"seed mean ({scale})")
    ns = [r["n"] for r in rows]
    fig.suptitle(f"Mean of {_seeds(min(ns), max(ns))} per cell", fontsize=10)
    path = Path(out) if out else root / f"heatmap_{name}_{_slug(y)}_by_{_slug(x)}"
    _write_table(rows, path)
    return _save(fig, path)


def bars_plot(sweep_dir: str | Path, metric: str, x: str | None = None, out: str | Path | None = None,
              where: dict | None = None) -> list[Path]:
    """Per metric, the seed mean with its 95% interval: one bar, or one per value of `x`; `where` keeps the
    runs whose columns have the given values (e.g. {"venue_design": "baseline"})."""
    metrics = _metrics(metric)
    df = _ok(load_summary(sweep_dir), {m: "--metric" for m in metrics} | ({x: "--x"} if x else {}), where)
    levels = _levels(df[x]) if x else [None]
    fig, axes = _grid(len(metrics), w=4.2, h=3.0)
    rows = []
    for ax, met in zip(axes, metrics):
        means, los, his, ns_ax = [], [], [], []
        for lv in levels:
            vals = (df[met] if x is None else df.loc[df[x] == lv, met]).to_numpy(dtype=float)
            mean, lo, hi, method, n = interval(vals, metric_range(met))
            means.append(mean)
            los.append(lo)
            his.append(hi)
            ns_ax.append(n)
            fin = vals[np.isfinite(vals)]
            rows.append({"metric": met, **({x: lv} if x else {}), "mean": mean, "ci_low": lo, "ci_high": hi,
                         "interval": method, "median": float(np.median(fin)) if fin.size else math.nan,
                         "n": n, "event": EVENT.get(met, math.nan)})
        pos = np.arange(len(levels))
        ax.bar(pos, means, color="tab:blue", alpha=0.8)
        ok, err = _errs(means, los, his)
        if ok.any():
            ax.errorbar(pos[ok], np.asarray(means)[ok], yerr=err, fmt="none", ecolor="black", capsize=4, lw=1)
        if met in EVENT:
            ax.axhline(EVENT[met], color="tab:red", ls="--", lw=1.2, label="the event")
            ax.legend(fontsize=7)
        ax.set_xticks(pos, [_fmt(v) for v in levels] if x else [""])
        if x:
            ax.set_xlabel(label(x), fontsize=8)
        ax.set_title(label(met), fontsize=9)
        ax.axhline(0, color="black", lw=0.5)
        _note(ax, ns_ax)
    ns = [r["n"] for r in rows]
    fig.suptitle(f"Mean of {_seeds(min(ns), max(ns))}; {_interval_title(ns)}", fontsize=10)
    root = Path(sweep_dir)
    path = Path(out) if out else root / (f"bars_{_name(metrics)}" + (f"_by_{_slug(x)}" if x else ""))
    _write_table(rows, path)
    return _save(fig, path)


def paired_plot(sweep_dir: str | Path, x: str, base: str, metric: str, out: str | Path | None = None,
                where: dict | None = None) -> list[Path]:
    """Per metric and value of `x` other than `base`: the mean of the seed-by-seed difference from `base`
    (runs matched on every other swept key), with a Student-t 95% interval clipped to the difference's range;
    `where` keeps the runs whose columns have the given values."""
    metrics = _metrics(metric)
    df = _ok(load_summary(sweep_dir), {m: "--metric" for m in metrics} | {x: "--x"}, where)
    levels = [v for v in _levels(df[x]) if _fmt(v) != base]
    if not any(_fmt(v) == base for v in _levels(df[x])):
        raise PlotError(f"--paired {base!r}: not a value of {x}; values: "
                        f"{', '.join(_fmt(v) for v in _levels(df[x]))}")
    overrides = _swept_keys(Path(sweep_dir), exclude={x})
    keys = [k for k in overrides if k in df.columns] or ["seed"]
    fig, axes = _grid(len(metrics), w=5.0, h=3.4)
    rows = []
    b = df[df[x].map(_fmt) == base].set_index(keys)
    for ax, met in zip(axes, metrics):
        means, los, his, ns_ax = [], [], [], []
        for lv in levels:
            o = df[df[x] == lv].set_index(keys)
            common = o.index.intersection(b.index)
            d = (o.loc[common, met].astype(float) - b.loc[common, met].astype(float)).to_numpy()
            mean, lo, hi, method, n = interval(d, _diff_range(met))
            means.append(mean)
            los.append(lo)
            his.append(hi)
            ns_ax.append(n)
            base_mean = float(np.nanmean(b.loc[common, met].astype(float))) if len(common) else math.nan
            rows.append({"metric": met, x: lv, "base": base, "base_mean": base_mean, "diff_mean": mean,
                         "ci_low": lo, "ci_high": hi, "interval": method, "n_pairs": n})
        pos = np.arange(len(levels))
        ax.barh(pos, means, color="tab:purple", alpha=0.8)
        ok, err = _errs(means, los, his)
        if ok.any():
            ax.errorbar(np.asarray(means)[ok], pos[ok], xerr=err, fmt="none", ecolor="black", capsize=4, lw=1)
        ax.set_yticks(pos, [_fmt(v) for v in levels], fontsize=8)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(f"{label(met)}: minus {base}", fontsize=9)
        _note(ax, ns_ax)
    ns = [r["n_pairs"] for r in rows]
    fig.suptitle(f"Paired differences from {x} = {base} ({_seeds(min(ns), max(ns))}); {_interval_title(ns)}",
                 fontsize=10)
    path = Path(out) if out else Path(sweep_dir) / f"paired_{_name(metrics)}_vs_{base}"
    _write_table(rows, path)
    return _save(fig, path)


def _swept_keys(sweep_dir: Path, exclude: set[str]) -> list[str]:
    """The override keys of a sweep's first job (the run coordinates), less `exclude`."""
    import yaml
    for ov in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        keys = [str(i).partition("=")[0].lstrip("+~") for i in (yaml.safe_load(ov.read_text()) or [])]
        return [k for k in keys if k not in exclude and not k.startswith("hydra")]
    return ["seed"]


def sobol_plot(sweep_dir: str | Path, metric: str, out: str | Path | None = None) -> list[Path]:
    """First-order and total Sobol indices with 95% bootstrap intervals (SALib) of each metric, from a sweep
    over `sensitivity.index` (experiment=sobol); the design is rebuilt from the jobs' saved config."""
    import yaml
    from SALib.analyze import sobol as sobol_analyze

    from conf.schema import sobol_design
    metrics = _metrics(metric)
    root = Path(sweep_dir)
    df = _ok(load_summary(root), {m: "--metric" for m in metrics} | {"sensitivity.index": "--sobol"})
    cfgs = sorted(root.glob("*/config.yaml"))
    if not cfgs:
        raise PlotError(f"--sobol: {root}: no job's config.yaml to read the design from")
    sens = yaml.safe_load(cfgs[0].read_text())["sensitivity"]
    X, problem = sobol_design(sens["params"], sens["n_base"], sens.get("design_seed", 0))
    D = problem["num_vars"]
    df = df.sort_values("sensitivity.index").drop_duplicates("sensitivity.index").set_index("sensitivity.index")
    fig, axes = _grid(len(metrics), w=6.0, h=3.8)
    rows = []
    for ax, met in zip(axes, metrics):
        y = df[met].reindex(range(len(X))).to_numpy(dtype=float)
        # a base sample with a missing or failed run is dropped whole (the estimator needs all D + 2 rows)
        blocks = y.reshape(-1, D + 2)
        keep = np.isfinite(blocks).all(axis=1)
        si = sobol_analyze.analyze(problem, blocks[keep].ravel(), calc_second_order=False, num_resamples=1000,
                                   conf_level=0.95, seed=0)
        pos = np.arange(D)
        ax.bar(pos - 0.2, si["S1"], 0.4, yerr=si["S1_conf"], capsize=3, label="first order S1")
        ax.bar(pos + 0.2, si["ST"], 0.4, yerr=si["ST_conf"], capsize=3, label="total ST")
        ax.set_xticks(pos, [label(n) for n in problem["names"]], rotation=30, ha="right", fontsize=7)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"{label(met)} ({int(keep.sum())} base samples)", fontsize=9)
        ax.legend(fontsize=7)
        for i, n in enumerate(problem["names"]):
            rows.append({"metric": met, "param": n, "low": problem["bounds"][i][0], "high": problem["bounds"][i][1],
                         "S1": si["S1"][i], "S1_conf95": si["S1_conf"][i], "ST": si["ST"][i],
                         "ST_conf95": si["ST_conf"][i], "base_samples": int(keep.sum())})
    fig.suptitle("Sobol indices (Saltelli's scheme, SALib), 95% bootstrap intervals", fontsize=10)
    path = Path(out) if out else root / "sobol"
    _write_table(rows, path)
    return _save(fig, path)


# ------------------------------------------------------------------------------------ the validation study
_RET = "stats.returns"
# the event's figures (../shared/MECHANICS.md, "The 10-11 October 2025 crash" and "More figures"): drawn as
# dashed lines on bar charts and written to the CSV's `event` column
EVENT = {
    "venues.binance.oi_drop_pct": 34.0, "venues.hyperliquid.oi_drop_pct": 55.0,
    "venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct": 21.0,
    "stats.oct10.long_share_liquidated": 0.87, "stats.oct10.liquidated_over_oi": 0.09,
    "stats.oct10.oi_drop_pct_BTC": 22.0, "stats.oct10.oi_drop_pct_ALT": 50.0,
    "stats.oct10.depth1_collapse_pct_BTC": 94.0, "stats.oct10.depth1_collapse_pct_ALT": 94.0,
    "stats.funding.pre_shock_annual_pct": 40.0, "stats.oct10.max_venue_drawdown_pct_BTC": 14.0,
    "stats.funding.median_8h_bps": 1.0,
}
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="a run's folder or a sweep's folder")
    ap.add_argument("--x", help="swept key on the x axis (sweep folders)")
    ap.add_argument("--y", help="second swept key: draws a heatmap")
    ap.add_argument("--by", help="second swept key: one line per value")
    ap.add_argument("--metric", default="totals.liquidated_notional_usd",
                    help="metric's dotted name, or several separated by commas (one panel each)")
    ap.add_argument("--bars", action="store_true", help="bars of seed means (per value of --x if given)")
    ap.add_argument("--paired", metavar="BASE", help="paired differences from --x = BASE, seed by seed")
    ap.add_argument("--sobol", action="store_true", help="Sobol indices of a sensitivity sweep")
    ap.add_argument("--study", metavar="EXPERIMENT", help="every figure of a validation-study experiment "
                    "(EXPERIMENTS.md); --out names the folder")
    ap.add_argument("--out", help="output path without extension (PNG, PDF and, for sweeps, CSV are written)")
    a = ap.parse_args(argv)
    try:
        paths = _dispatch(a)
    except PlotError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    for p in paths:
        print(p)


def _dispatch(a: argparse.Namespace) -> list[Path]:
    """The figure(s) the command line asks for; bad input raises PlotError before anything is written."""
    folder = Path(a.folder)
    if not folder.is_dir():
        raise PlotError(f"{folder}: not a folder")
    if (folder / "timeseries.parquet").exists() and a.x is None and not (a.bars or a.study or a.sobol):
        return dashboard(folder, a.out)
    _check_sweep(folder)
    if a.study:
        return study_figures(folder, a.study, a.out)
    if a.sobol:
        return sobol_plot(folder, a.metric, a.out)
    if a.bars:
        return bars_plot(folder, a.metric, a.x, a.out)
    if a.x is None:
        raise PlotError("--x: a sweep folder needs the swept key to plot along (e.g. --x max_leverage)")
    if a.paired is not None:
        return paired_plot(folder, a.x, a.paired, a.metric, a.out)
    return sweep_plot(folder, a.x, a.metric, a.y, a.out, by=a.by)


if __name__ == "__main__":
    main()
