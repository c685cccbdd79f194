"""One run's dashboard, drawn from its saved files (timeseries.parquet, metrics.json, config.yaml,
events.parquet): `python plot.py RUN_DIR`, or run.py at the end of a run."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from figures import _save  # noqa: E402

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


def insurance_paid(ev: pd.DataFrame) -> dict[str, float]:
    """USD each venue's insurance fund paid out: its INSURANCE events with a negative change to the fund (aux);
    a remainder paid into the fund (aux > 0, settled by remainder_to_insurance) is not a payment."""
    out = ev[(ev["kind"] == "insurance") & (ev["aux"] < 0)]
    return {str(v): float(x) for v, x in out.groupby("venue")["notional"].sum().items()}


def dashboard(run_dir: str | Path, out: str | Path | None = None,
              formats: tuple[str, ...] = (".png",)) -> list[Path]:
    """The run's dashboard from its saved files: the shock's hours zoomed, with each venue's range of book trades
    per minute and its mark against the fundamental (both assets); the whole run's marks; open interest;
    liquidations and ADL per minute; each venue's liquidated notional by stage (book, backstop, ADL, bad debt)
    with the insurance fund's payments; insurance fund and vault capital; farmers' naked notional. Written as
    dashboard.png (each run of run.py draws it: the PDF would double its 2-3 s); `python plot.py RUN_DIR` adds
    the PDF."""
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
        ev = pd.read_parquet(run / "events.parquet", columns=["venue", "kind", "info", "notional", "aux"])
        liq = ev[ev["kind"] == "liquidation"]
        for (v, code), x in liq.groupby(["venue", "info"])["notional"].sum().items():
            for name, c in STAGES:
                if v in stages and int(code) == c:
                    stages[v][name] += float(x) / 1e6
        for v, x in insurance_paid(ev).items():
            if v in paid:
                paid[v] = x / 1e6
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
    return _save(fig, Path(out) if out else run / "dashboard", formats)
