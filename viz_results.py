"""The results page of a sweep (route /results of viz.py; `make viz-results SWEEP=<sweep folder>`): pick the
metric, x, y and paired base as `plot.py` takes them, and see plot.py's own figure and the numbers it writes
(seed mean, 95% interval and its method, seeds per cell). The figure and table are plot.py's: the page calls
its functions (sweep_figures.sweep_plot, paired_plot) into a temporary folder and shows what they wrote, so the
page and the command line cannot disagree."""

from __future__ import annotations

import numbers
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from figures import PlotError
from sweep_figures import _swept_keys, load_summary, paired_plot, sweep_plot

NONE = "(none)"
DEFAULT_METRIC = "totals.liquidated_notional_usd"


def sweep_options(sweep_dir: str | Path) -> dict:
    """What the page offers for a sweep: its swept keys (those with two values or more first), numeric metrics,
    and each key's values (the paired base's choices). A folder that is not a sweep raises PlotError."""
    root = Path(sweep_dir)
    df = load_summary(root)
    keys = [k for k in _swept_keys(root, exclude=set()) if k in df.columns]
    varied = [k for k in keys if df[k].nunique(dropna=True) > 1 and k != "seed"]
    skip = set(keys) | {"status", "seed", "config_hash", "steps", "wall_s"}
    metrics = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    if DEFAULT_METRIC in metrics:
        metrics.remove(DEFAULT_METRIC)
        metrics.insert(0, DEFAULT_METRIC)
    values = {k: [_fmt(v) for v in sorted(df[k].dropna().unique(), key=_order)] for k in keys}
    return {"keys": varied or [k for k in keys if k != "seed"] or ["seed"], "metrics": metrics, "values": values,
            "jobs": len(df)}


def _order(v):
    """Numbers first, in order; then text."""
    return (0, float(v), "") if isinstance(v, numbers.Real) and not isinstance(v, bool) else (1, 0.0, str(v))


def _fmt(v) -> str:
    """A value as plot.py's --paired takes it (sweep_figures._fmt)."""
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def results(sweep_dir: str | Path, metric: str, x: str, y: str | None = None,
            base: str | None = None) -> tuple[pd.DataFrame, bytes]:
    """plot.py's table (its CSV) and figure (PNG) for `--x x [--y y | --paired base] --metric metric`; bad input
    raises PlotError with plot.py's one-line message."""
    with tempfile.TemporaryDirectory(prefix="viz-results-") as tmp:
        out = Path(tmp) / "figure"
        if base:
            paired_plot(sweep_dir, x, base, metric, out)
        else:
            sweep_plot(sweep_dir, x, metric, y or None, out)
        return pd.read_csv(out.with_suffix(".csv")), out.with_suffix(".png").read_bytes()


def default_sweep() -> str:
    """The folder named by PERP_VIZ_SWEEP (make viz-results SWEEP=...), else the newest sweep under outputs/."""
    env = os.environ.get("PERP_VIZ_SWEEP")
    if env:
        return env
    found = sorted(Path("outputs/multirun").glob("*/*/summary.parquet"))
    return str(found[-1].parent) if found else ""


def _try(fn, *args):
    """(fn(*args), None), or (None, the one-line message) when the folder or a choice is refused."""
    if not args[0]:
        return None, "name a sweep folder"
    try:
        return fn(*args), None
    except PlotError as e:
        return None, str(e)


def _page():
    """The Solara component (imported here so that the functions above need no Solara)."""
    import solara

    @solara.component
    def ResultsPage():
        folder = solara.use_reactive(default_sweep())
        metric = solara.use_reactive(DEFAULT_METRIC)
        x = solara.use_reactive("")
        y = solara.use_reactive(NONE)
        base = solara.use_reactive(NONE)
        opts, opts_error = solara.use_memo(lambda: _try(sweep_options, folder.value), [folder.value])
        opts = opts or {"keys": [""], "metrics": [""], "values": {}, "jobs": 0}
        xv = x.value if x.value in opts["keys"] else opts["keys"][0]
        mv = metric.value if metric.value in opts["metrics"] else (opts["metrics"] or [""])[0]
        yv = y.value if y.value in opts["keys"] and y.value != xv else None
        bv = base.value if base.value in opts["values"].get(xv, []) else None
        out, error = solara.use_memo(lambda: _try(results, folder.value, mv, xv, yv, bv) if not opts_error
                                     else (None, opts_error), [folder.value, mv, xv, yv, bv, opts_error])
        with solara.Column(style={"padding": "12px"}):
            solara.Text("A sweep's results", style={"font-size": "20px", "font-weight": "500"})
            solara.Text("The seed mean of a metric over a swept key, with its 95% interval: plot.py's figure and "
                        "numbers (python plot.py SWEEP --x KEY [--y KEY2 | --paired BASE] --metric NAME).")
            solara.InputText("sweep folder (holding summary.parquet)", value=folder, continuous_update=False)
            solara.Text(f"{opts['jobs']} jobs")
            with solara.Row():
                solara.Select("metric", values=opts["metrics"], value=mv, on_value=metric.set)
                solara.Select("x", values=opts["keys"], value=xv, on_value=x.set)
                solara.Select("y (heatmap)", values=[NONE] + [k for k in opts["keys"] if k != xv],
                              value=yv or NONE, on_value=y.set)
                solara.Select("paired base", values=[NONE] + opts["values"].get(xv, []), value=bv or NONE,
                              on_value=base.set)
            if error:
                solara.Error(f"error: {error}", classes=["results-error"])
            elif out is not None:
                table, png = out
                solara.Image(png, width="720px")
                with solara.Div(classes=["results-table"]):
                    solara.DataFrame(table, items_per_page=25)

    return ResultsPage


ResultsPage = _page()
