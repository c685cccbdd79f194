"""What every figure of plot.py shares: matplotlib's Agg backend, readable labels with units, saving as PNG
and PDF (written whole, then renamed), and PlotError, the one-line refusal of bad input."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402

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


def _save(fig, path: Path, formats: tuple[str, ...] = (".png", ".pdf")) -> list[Path]:
    out = []
    path.parent.mkdir(parents=True, exist_ok=True)
    for ext in formats:
        p = path.with_suffix(ext)
        tmp = p.with_name(f".{p.name}.tmp")
        fig.savefig(tmp, dpi=_DPI[0], bbox_inches="tight", format=ext[1:])
        tmp.replace(p)
        out.append(p)
    plt.close(fig)
    return out


class PlotError(ValueError):
    """Bad input to plot.py (an unknown column, a folder that is not a sweep, ...): one line naming the option
    and what is allowed. `main` prints it as `error: ...` and exits with status 2, as run.py does."""
