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
import sys
from pathlib import Path

# the figures live in modules of their own; their public names are importable from here, as they always were
from dashboard import STAGES, dashboard  # noqa: F401
from figures import LABELS, PlotError, label  # noqa: F401
from study_figures import STUDY, study_figures  # noqa: F401
from sweep_figures import (EVENT, MIN_N, RANGES, _check_sweep, _ci95, bars_plot, interval,  # noqa: F401
                           load_summary, metric_range, paired_plot, sobol_plot, sweep_plot)


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
        return dashboard(folder, a.out, formats=(".png", ".pdf"))
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
