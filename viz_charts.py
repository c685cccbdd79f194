"""The live page's charts: matplotlib figures (PNG in the page: no script to fetch, which this closed network
needs) drawn from a `viz_model.LiveView`. Each function returns a `matplotlib.figure.Figure` (no pyplot: the page
draws them from Mesa's play thread). The same panels as the end-of-run dashboard (dashboard.py), live."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from viz_model import STAGES, LiveView

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
SIZE = (6.4, 3.3)
DPI = 80


def _fig(title: str, size: tuple[float, float] = SIZE) -> tuple[Figure, object]:
    fig = Figure(figsize=size, dpi=DPI)   # fixed margins: a constrained layout doubles the drawing time
    fig.subplots_adjust(left=0.11, right=0.98, top=0.9, bottom=0.14)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    return fig, ax


def _time_axis(ax, view: LiveView) -> None:
    """The window's minutes on x (fixed, so a chart fills in as the run goes), with the current minute marked."""
    ax.set_xlim(view.w0, max(view.w1, view.w0 + 1))
    ax.set_xlabel("minute", fontsize=8)
    if view.w0 <= view.minute <= view.w1:
        ax.axvline(view.minute, color="grey", lw=0.6, ls=":")


def prices(view: LiveView, asset: str) -> Figure:
    """Each venue's range of book trades in each minute (vertical bars) and its mark (dashed) against the
    fundamental (black), for one asset."""
    from venues.params import ASSETS
    k = ASSETS.index(asset)
    fig, ax = _fig(f"{asset}: each venue's trades (minute's range) and mark vs the fundamental")
    x = view.minutes
    if len(x):
        ax.plot(x, view.fundamental[:, k], color="black", lw=1.4, label="fundamental")
        for c, (vi, name) in zip(COLORS, enumerate(view.venues)):
            lo, hi = view.low[:, vi, k], view.high[:, vi, k]
            ok = np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                ax.vlines(x[ok], lo[ok], hi[ok], color=c, lw=1.2, alpha=0.55, label=f"{name} trades")
            ax.plot(x, view.mark[:, vi, k], color=c, lw=0.9, ls="--", label=f"{name} mark")
        ax.legend(fontsize=6, ncol=2, loc="upper right")
    ax.set_ylabel("USD", fontsize=8)
    _time_axis(ax, view)
    return fig


def depth(view: LiveView) -> Figure:
    """Resting notional within 1% of each venue's mid, per asset (log scale: the book thins by orders of
    magnitude in the crash)."""
    from venues.params import ASSETS
    fig, ax = _fig("Depth within 1% of the mid (USD, both sides)")
    x = view.minutes
    if len(x):
        for c, (vi, name) in zip(COLORS, enumerate(view.venues)):
            for k, (a, ls) in enumerate(zip(ASSETS[:2], ("-", "--"))):
                y = np.where(view.depth1[:, vi, k] > 0, view.depth1[:, vi, k], np.nan)
                if np.isfinite(y).any():
                    ax.plot(x, y, color=c, ls=ls, lw=0.9, label=f"{name} {a}")
        if ax.lines:
            ax.set_yscale("log")
            ax.legend(fontsize=6, ncol=3, loc="lower left")
    _time_axis(ax, view)
    return fig


def stages(view: LiveView) -> Figure:
    """Liquidated notional by stage per venue so far (grouped bars, USD million); the insurance fund's bar is
    what it paid for the shortfalls of book liquidations."""
    fig, ax = _fig(f"Liquidated by stage, per venue (USD million, to minute {view.minute})")
    n = len(STAGES)
    width = 0.8 / n
    pos = np.arange(len(view.venues))
    for j, (c, stage) in enumerate(zip(COLORS, STAGES)):
        vals = [view.stages[v][stage] / 1e6 for v in view.venues]
        ax.bar(pos + (j - (n - 1) / 2) * width, vals, width, color=c, label=stage)
    ax.set_xticks(pos, view.venues, fontsize=8)
    ax.legend(fontsize=7, ncol=3)
    return fig


def funds(view: LiveView) -> Figure:
    """Each venue's insurance fund (solid) and backstop vault equity (dashed), USD million."""
    fig, ax = _fig("Insurance funds (solid) and backstop vault equity (dashed), USD million")
    x = view.minutes
    if len(x):
        for c, (vi, name) in zip(COLORS, enumerate(view.venues)):
            if np.abs(view.insurance[:, vi]).sum() > 0:
                ax.plot(x, view.insurance[:, vi] / 1e6, color=c, label=f"{name} insurance fund")
            if np.abs(view.vault[:, vi]).sum() > 0:
                ax.plot(x, view.vault[:, vi] / 1e6, color=c, ls="--", label=f"{name} vault")
        if ax.lines:
            ax.legend(fontsize=6, ncol=2, loc="lower left")
    _time_axis(ax, view)
    return fig


def naked(view: LiveView) -> Figure:
    """Farmers' unhedged notional after broken hedges, USD million."""
    fig, ax = _fig("Farmers' naked notional (broken hedges), USD million")
    if len(view.minutes):
        ax.plot(view.minutes, view.naked / 1e6, color="tab:red")
    _time_axis(ax, view)
    return fig


def synth(view: LiveView) -> Figure:
    """The synthetic dollar's spot mid on the CEX-like venue (its market oracle)."""
    fig, ax = _fig("The synthetic dollar's price (CEX spot mid)")
    if len(view.minutes) and np.isfinite(view.synth).any():
        ax.plot(view.minutes, view.synth, color="tab:purple")
        ax.axhline(1.0, color="grey", lw=0.6)
    ax.set_ylabel("USD", fontsize=8)
    _time_axis(ax, view)
    return fig
