"""Figures and tables of a calibration or a stress search (calibrate.py, stress.py), each figure written with the
CSV of its numbers: the value of every trial against each parameter, the parameters' importances, the targets
against the model at the best point, the worst cases of venue designs."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")   # figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from figures import _save, label  # noqa: E402


def write_table(rows: list[dict], path: Path, markdown: bool = True) -> list[Path]:
    """rows as <path>.csv (and <path>.md, a markdown table), each written whole and renamed."""
    df = pd.DataFrame(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    texts = {".csv": df.to_csv(index=False)}
    if markdown:
        texts[".md"] = _markdown(df)
    for ext, text in texts.items():
        p = path.with_suffix(ext)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(text)
        tmp.replace(p)
        out.append(p)
    return out


def _markdown(df: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")
    head = "| " + " | ".join(map(str, df.columns)) + " |\n|" + "---|" * len(df.columns) + "\n"
    return head + "".join("| " + " | ".join(cell(v) for v in row) + " |\n" for row in df.itertuples(index=False))


def value_vs_params(trials: pd.DataFrame, params: list, value: str, path: Path, title: str,
                    best: str = "min") -> list[Path]:
    """A scatter of every completed trial's value against each parameter (log axes where the parameter is
    searched on a log scale), the best trial marked; the CSV holds the trials."""
    n = len(params)
    cols = 1 if n == 1 else 2 if n <= 4 else 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), constrained_layout=True, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    ok = trials[np.isfinite(trials[value].astype(float))] if len(trials) else trials
    ib = None
    if len(ok):
        ib = ok[value].astype(float).idxmin() if best == "min" else ok[value].astype(float).idxmax()
    for ax, p in zip(axes.ravel(), params):
        x = ok[p.key] if len(ok) else []
        if p.kind == "choice":
            cats = [str(c) for c in p.choices]
            pos = {c: i for i, c in enumerate(cats)}
            xs = [pos[str(v)] for v in x]
            ax.set_xticks(range(len(cats)), cats)
        else:
            xs = list(x)
            if p.log:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())   # no overlapping 2x10^5 ...
            ax.set_xlim(p.low, p.high)
        ax.scatter(xs, ok[value] if len(ok) else [], s=18, c="tab:blue", alpha=0.7)
        if ib is not None:
            xb = pos[str(ok.loc[ib, p.key])] if p.kind == "choice" else ok.loc[ib, p.key]
            ax.scatter([xb], [ok.loc[ib, value]], s=60, facecolors="none", edgecolors="tab:red", label="best")
            ax.legend(fontsize=7)
        ax.set_xlabel(label(p.key), fontsize=8)
        ax.set_ylabel(value, fontsize=8)
        y = ok[value].astype(float) if len(ok) else pd.Series(dtype=float)
        if len(y) and y.min() > 0 and y.max() / y.min() > 30:   # a loss spanning orders of magnitude
            ax.set_yscale("log")
    fig.suptitle(f"{title} ({len(ok)} completed trials)", fontsize=10)
    write_table(trials.to_dict("records"), path, markdown=False)
    return _save(fig, path)


def importances_plot(imp: dict[str, float], path: Path, title: str, note: str) -> list[Path]:
    """Horizontal bars of each parameter's importance (normalised to sum to 1); CSV of the numbers."""
    names = list(imp)
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * max(2, len(names)) + 1.2), constrained_layout=True)
    vals = [imp[k] for k in names]
    ax.barh(range(len(names)), vals, color="tab:purple", alpha=0.8)
    ax.set_yticks(range(len(names)), [label(k) for k in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("importance (sums to 1)", fontsize=8)
    ax.set_title(f"{title}\n{note}", fontsize=9)
    write_table([{"param": k, "importance": v} for k, v in imp.items()], path, markdown=False)
    return _save(fig, path)


def targets_plot(rows: list[dict], path: Path, title: str) -> list[Path]:
    """Each target's range (shaded: -1 to +1 in range units, 0 its centre), the reported figure (dashed) and the
    model's statistic with its 95% interval, in the target's range units z = (x - centre) / half-width; the
    numbers themselves are written beside each row (the table's CSV holds them)."""
    n = len(rows)
    fig, ax = plt.subplots(figsize=(9.5, 0.5 * n + 1.6), constrained_layout=True)
    ax.axvspan(-1, 1, color="tab:green", alpha=0.12, lw=0, label="the event's range")
    for i, r in enumerate(rows):
        c, h = 0.5 * (r["low"] + r["high"]), 0.5 * (r["high"] - r["low"])
        z = (lambda x: (x - c) / h)
        if r.get("value") is not None and np.isfinite(r["value"]):
            ax.plot([z(r["value"])] * 2, [i - 0.35, i + 0.35], color="tab:red", ls="--", lw=1.2)
        m = r["model_mean"]
        if np.isfinite(m):
            zm = float(np.clip(z(m), -12, 12))
            ax.plot([zm], [i], "o", color="tab:blue" if r["inside"] else "tab:orange", ms=6)
            if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]):
                lo, hi = np.clip([z(r["ci_low"]), z(r["ci_high"])], -12, 12)
                ax.plot([lo, hi], [i, i], color="black", lw=1.2)
        ax.text(12.6, i, f"{_num(m)} [{_num(r['ci_low'])}, {_num(r['ci_high'])}] vs {_num(r['low'])}-{_num(r['high'])}",
                va="center", fontsize=7)
    ax.set_yticks(range(n), [r["target"] + ("" if r["in_loss"] else " (not in loss)") for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-12, 12)
    ax.axvline(0, color="black", lw=0.4)
    ax.set_xlabel("in range units: (x - centre) / half-width; the range is -1 to +1 (clipped at +-12)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.plot([], [], "o", color="tab:blue", label="model, inside the range")
    ax.plot([], [], "o", color="tab:orange", label="model, outside")
    ax.plot([], [], color="tab:red", ls="--", label="the reported figure")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def _num(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.3g}"


def worst_cases_plot(rows: list[dict], cross: list[dict], metric: str, path: Path, title: str) -> list[Path]:
    """Left: each design's worst case re-run over fresh seeds (mean, 95% interval), and its search value.
    Right (when cross re-runs exist): at each design's worst point, every design's mean (paired seeds)."""
    ncol = 2 if cross else 1
    fig, axes = plt.subplots(1, ncol, figsize=(6.0 * ncol, 3.8), constrained_layout=True, squeeze=False)
    ax = axes[0, 0]
    pos = np.arange(len(rows))
    means = np.array([r["rerun_mean"] for r in rows], dtype=float)
    ax.bar(pos, means, color="tab:red", alpha=0.75, label="re-run over fresh seeds")
    for i, r in enumerate(rows):
        if np.isfinite(r["rerun_ci_low"]):
            ax.errorbar([i], [r["rerun_mean"]], yerr=[[r["rerun_mean"] - r["rerun_ci_low"]],
                                                      [r["rerun_ci_high"] - r["rerun_mean"]]],
                        fmt="none", ecolor="black", capsize=4)
    ax.scatter(pos, [r["search_value"] for r in rows], marker="x", color="black", label="in the search")
    ax.set_xticks(pos, [r["design"] for r in rows], fontsize=8)
    ax.set_ylabel(label(metric), fontsize=8)
    ax.set_title("Each design's worst case", fontsize=9)
    ax.legend(fontsize=7)
    if cross:
        ax = axes[0, 1]
        points = list(dict.fromkeys(c["worst_of"] for c in cross))
        designs = list(dict.fromkeys(c["design"] for c in cross))
        w = 0.8 / max(1, len(designs))
        for j, d in enumerate(designs):
            ys = [next((c["mean"] for c in cross if c["worst_of"] == p and c["design"] == d), math.nan) for p in points]
            ax.bar(np.arange(len(points)) + j * w - 0.4 + w / 2, ys, w, label=d, alpha=0.8)
        ax.set_xticks(np.arange(len(points)), [f"worst of {p}" for p in points], fontsize=8)
        ax.set_ylabel(label(metric), fontsize=8)
        ax.set_title("Every design at each worst point (same seeds)", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
