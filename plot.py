"""Figures from saved results only (matplotlib's Agg backend; PNG and PDF).

    python plot.py RUN_DIR                                      the run's dashboard
    python plot.py SWEEP_DIR --x KEY --metric NAME              a line: seed mean with a 95% confidence band
    python plot.py SWEEP_DIR --x KEY --y KEY --metric NAME      a heatmap of the seed mean

RUN_DIR holds timeseries.parquet and metrics.json (one run); SWEEP_DIR holds summary.parquet (or the jobs'
folders, from which the summary is built first). KEY is a swept override (e.g. max_leverage) and NAME a
metric's dotted name (e.g. totals.liquidated_notional_usd). Figures go next to the data unless --out says.
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


def label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    unit = " (USD)" if key.endswith("_usd") else " (%)" if key.endswith("_pct") else ""
    return key.split(".")[-1].replace("_", " ").removesuffix(" usd").removesuffix(" pct").capitalize() + unit


def _save(fig, path: Path) -> list[Path]:
    out = []
    for ext in (".png", ".pdf"):
        p = path.with_suffix(ext)
        tmp = p.with_name(f".{p.name}.tmp")
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=ext[1:])
        tmp.replace(p)
        out.append(p)
    plt.close(fig)
    return out


# ---------------------------------------------------------------------------------------------- one run
def dashboard(run_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """The run's dashboard from its saved files: prices per venue against the fundamental (both assets), open
    interest, liquidations and ADL per minute, insurance fund and vault capital, farmers' naked notional."""
    run = Path(run_dir)
    ts = pd.read_parquet(run / "timeseries.parquet")
    ts = ts[ts["step"] >= 1]   # step 0 is the state before the first minute (funds not yet recorded)
    import json
    metrics = json.loads((run / "metrics.json").read_text())
    venues = list(dict.fromkeys(ts["venue"]))
    assets = list(dict.fromkeys(ts["asset"]))
    hours = lambda s: s / 60.0  # noqa: E731
    fig, axes = plt.subplots(3, 2, figsize=(13, 11), constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, a in enumerate(assets):
        ax = axes[0, j]
        one = ts[(ts["asset"] == a) & (ts["venue"] == venues[0])]
        ax.plot(hours(one["step"]), one["fundamental"], color="black", lw=1.6, label="fundamental")
        for c, v in zip(colors, venues):
            d = ts[(ts["asset"] == a) & (ts["venue"] == v)]
            ax.plot(hours(d["step"]), d["mark"], color=c, lw=0.9, label=f"{v} mark")
        ax.set_title(f"{a}: venue marks against the fundamental")
        ax.set_xlabel("time (hours)")
        ax.set_ylabel(f"{a} price (USD)")
        ax.legend(fontsize=8)
    ax = axes[1, 0]
    for c, v in zip(colors, venues):
        d = ts[ts["venue"] == v].groupby("step")["oi_usd"].sum()
        ax.plot(hours(d.index.to_numpy()), d.to_numpy() / 1e6, color=c, label=v)
    ax.set_title("Open interest (both assets, at mark)")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("open interest (USD million)")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    first = ts[ts["asset"] == assets[0]]
    for c, v in zip(colors, venues):
        d = first[first["venue"] == v]
        ax.plot(hours(d["step"]), d["venue_liquidated_usd"] / 1e6, color=c, lw=0.9, label=f"{v} liquidated")
        ax.plot(hours(d["step"]), d["venue_adl_usd"] / 1e6, color=c, lw=0.9, ls="--", label=f"{v} ADL")
    ax.set_title("Liquidations (solid) and ADL (dashed) per minute")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("notional per minute (USD million)")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[2, 0]
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
    ax = axes[2, 1]
    d = first[first["venue"] == venues[0]]
    ax.plot(hours(d["step"]), d["naked_notional_usd"] / 1e6, color="tab:red", label="farmers' naked notional")
    ax.set_xlabel("time (hours)")
    ax.set_ylabel("naked notional (USD million)")
    ax.set_title("Broken hedges: farmers' unhedged notional")
    if d["synth_mid"].notna().any():
        ax2 = ax.twinx()
        ax2.plot(hours(d["step"]), d["synth_mid"], color="tab:purple", lw=0.8, label="synthetic dollar (CEX spot)")
        ax2.set_ylabel("synthetic dollar price (USD)")
        ax2.legend(fontsize=8, loc="lower right")
    ax.legend(fontsize=8, loc="upper left")
    t = metrics.get("totals", {})
    fig.suptitle(f"{metrics.get('scenario', '')} seed {metrics.get('seed')}, {metrics.get('steps')} minutes: "
                 f"liquidated ${t.get('liquidated_notional_usd', 0) / 1e6:,.1f}M, "
                 f"ADL ${t.get('adl_notional_usd', 0) / 1e6:,.1f}M, "
                 f"bad debt ${t.get('bad_debt_usd', 0) / 1e6:,.2f}M, broken hedges {t.get('broken_hedges', 0)}")
    return _save(fig, Path(out) if out else run / "dashboard")


# ---------------------------------------------------------------------------------------------- sweeps
def load_summary(sweep_dir: str | Path) -> pd.DataFrame:
    root = Path(sweep_dir)
    path = root / "summary.parquet"
    if not path.exists():
        from run import aggregate
        return aggregate(root)
    return pd.read_parquet(path)


def _ci95(x: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high): the mean with a Student-t 95% interval over seeds (no band with one seed)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, mean, mean
    from scipy import stats
    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def _seeds(lo: int, hi: int) -> str:
    return f"{lo} seeds" if lo == hi else f"{lo}-{hi} seeds"


def sweep_plot(sweep_dir: str | Path, x: str, metric: str, y: str | None = None,
               out: str | Path | None = None) -> list[Path]:
    """A line of the seed mean with a 95% band over `x`, or with `y` a heatmap of the seed mean."""
    df = load_summary(sweep_dir)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    for key in [x, metric] + ([y] if y else []):
        if key not in df.columns:
            raise SystemExit(f"error: {key!r} is not a column of the summary; columns: {', '.join(df.columns)}")
    name = metric.split(".")[-1]
    root = Path(sweep_dir)
    if y is None:
        rows = []
        for xv, g in df.groupby(x, sort=True):
            rows.append((xv, *_ci95(g[metric].to_numpy()), len(g)))
        r = pd.DataFrame(rows, columns=[x, "mean", "lo", "hi", "n"])
        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
        ax.plot(r[x], r["mean"], marker="o")
        ax.fill_between(r[x], r["lo"], r["hi"], alpha=0.25, label="95% confidence interval over seeds")
        ax.set_xlabel(label(x))
        ax.set_ylabel(label(metric))
        ax.set_title(f"{label(metric)} (mean of {_seeds(int(r['n'].min()), int(r['n'].max()))})")
        ax.legend(fontsize=8)
        return _save(fig, Path(out) if out else root / f"line_{name}_by_{x.split('.')[-1]}")
    pivot = df.groupby([y, x])[metric].mean().unstack(x).sort_index()
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    im = ax.imshow(pivot.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="magma")
    ax.set_xticks(range(pivot.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in pivot.columns])
    ax.set_yticks(range(pivot.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in pivot.index])
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    vals = pivot.to_numpy(dtype=float)
    for (i, j), v in np.ndenumerate(vals):
        if np.isfinite(v):
            ax.text(j, i, f"{v / 1e6:.1f}M" if abs(v) >= 1e5 else f"{v:.3g}", ha="center", va="center",
                    color="white" if v < np.nanmean(vals) else "black", fontsize=8)
    n = df.groupby([y, x]).size()
    ax.set_title(f"{label(metric)}: mean of {_seeds(n.min(), n.max())}")
    fig.colorbar(im, ax=ax, label=label(metric))
    return _save(fig, Path(out) if out else root / f"heatmap_{name}_{y.split('.')[-1]}_by_{x.split('.')[-1]}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="a run's folder or a sweep's folder")
    ap.add_argument("--x", help="swept key on the x axis (sweep folders)")
    ap.add_argument("--y", help="second swept key: draws a heatmap")
    ap.add_argument("--metric", default="totals.liquidated_notional_usd", help="metric's dotted name")
    ap.add_argument("--out", help="output path without extension (PNG and PDF are written)")
    a = ap.parse_args(argv)
    folder = Path(a.folder)
    if not folder.is_dir():
        sys.exit(f"error: {folder}: not a folder")
    if (folder / "timeseries.parquet").exists() and a.x is None:
        paths = dashboard(folder, a.out)
    else:
        if a.x is None:
            sys.exit("error: --x: a sweep folder needs the swept key to plot along (e.g. --x max_leverage)")
        paths = sweep_plot(folder, a.x, a.metric, a.y, a.out)
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()
