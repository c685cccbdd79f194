"""Figures of a sweep, from its summary table (sweeps.aggregate): lines and heatmaps of seed means, bars,
paired differences, Sobol indices; each writes a CSV of its numbers. The 95% intervals, the ranges a metric
can take (RANGES) and the checks of the user's keys are here (plot.py's docstring says what they do)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from figures import PlotError, _save, label  # noqa: E402
from sweeps import MANIFEST, aggregate  # noqa: E402
from targets import event_figures, event_ranges  # noqa: E402
from venues.params import ConfigError  # noqa: E402


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
        if met in EVENT_RANGES:
            ax.axhspan(*EVENT_RANGES[met], color="tab:red", alpha=0.08, lw=0)
        if met in EVENT:
            ax.axhline(EVENT[met], color="tab:red", ls="--", lw=1.2, label="the event (band: its range)")
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
        # the bootstrap's own seed: SALib takes seed 0 as none and then draws from numpy's global, unseeded
        # generator (SALib/analyze/sobol.py: `if seed:`), so the intervals changed from one plot to the next
        si = sobol_analyze.analyze(problem, blocks[keep].ravel(), calc_second_order=False, num_resamples=1000,
                                   conf_level=0.95, seed=1 + int(sens.get("design_seed", 0)))
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


# the event's figures and their ranges (conf/targets/*.yaml, read by targets.py, each with its source): drawn as
# dashed lines and bands on bar charts and written to the CSV's `event` column
EVENT = event_figures()
EVENT_RANGES = event_ranges()
