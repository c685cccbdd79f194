"""The live page's model and what its charts read (viz.py draws them; this module has no Solara in it).

- The page's settings are the command line's overrides: `overrides(settings)` turns the controls' values into
  `key=value` strings (an empty control keeps the config's value), `check(settings)` validates them with
  `run.preflight`, the command line's own check (a bad value: its one-line message), and `PageModel` is built
  from them through `run.compose_config` and `run.model_config`, the path of `run.build_model`. So the page's run
  with seed S and overrides O is the run of `python run.py O seed=S` (tests/test_viz.py checks it).
- `PageModel` counts its steps' wall time (the step rate the page shows) and holds a lock while it steps, so that
  a chart never reads a minute half written (Mesa's play loop steps in a thread of its own).
- `LiveView` is what the charts read after each minute, copied under that lock: the series up to the current
  minute in the window shown, liquidated notional by stage per venue and the largest ADL fills (from the venues'
  event logs, read incrementally).
"""

from __future__ import annotations

import math

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

import run
from model import CascadeModel
from venues import events as ev
from venues.params import ASSETS, ConfigError
from venues.presets import load_preset

VENUE_KNOBS = ("insurance_fund_usd", "backstop_vault_usd", "adl_ranking", "collateral_oracle", "max_leverage", "halt")
"""Each venue's design controls: keys of `venues.<name>` (conf/schema.py VenueChoice); empty keeps the preset."""
CHOICES = {"scenario": ["oct10", "calm"], "population": ["small", "default"],
           "adl_ranking": ["", "pnl_leverage", "pnl", "leverage", "pro_rata"],
           "collateral_oracle": ["", "market", "redemption"]}
"""Controls with a list of values ("" keeps the preset's)."""
WINDOWS = ("auto", "the shock", "whole run", "last hour")
"""What the time charts show: auto (the whole run until half an hour before the shock, then the shock's hours),
the shock's hours (from half an hour before its start to four hours after), the whole run so far, the last hour."""
STAGES = ("book", "backstop", "insurance fund", "ADL", "bad debt")
"""Liquidated notional by stage: the waterfall's stages (venues/waterfall.py STAGE_*: book 1, backstop 2, ADL 3,
bad-debt close 4); the insurance fund's figure is what it paid for book liquidations' shortfalls."""
_STAGE_CODE = {1: "book", 2: "backstop", 3: "ADL", 4: "bad debt"}
ADL_ROWS = 10


@lru_cache(maxsize=1)
def venue_presets() -> dict[str, str]:
    """Venue name -> preset of the default config (conf/venues/three.yaml)."""
    cfg = run.compose_config([])
    return {str(name): str(spec["preset"]) for name, spec in cfg["venues"].items()}


def default_settings() -> dict[str, str]:
    """The page's controls, by override key, as the text a user types on the command line; "" keeps the
    config's value. The page starts on population=small (steps in a few ms a minute)."""
    s = {"scenario": "oct10", "population": "small", "seed": "0", "steps": "1440",
         "incentives.point_value_usd": "", "transfers.delay_minutes": ""}
    for name in venue_presets():
        s.update({f"venues.{name}.{knob}": "" for knob in VENUE_KNOBS})
    return s


def hints() -> dict[str, str]:
    """What an empty control keeps: the preset's (or the config's) value, by override key."""
    out = {"incentives.point_value_usd": "config: 0.02 (points_season)", "transfers.delay_minutes": "config: 30"}
    for name, preset in venue_presets().items():
        p = load_preset(preset)
        out.update({f"venues.{name}.insurance_fund_usd": f"preset: {p.insurance_fund_usd:,.0f}",
                    f"venues.{name}.backstop_vault_usd": f"preset: {p.backstop_vault_usd:,.0f}",
                    f"venues.{name}.adl_ranking": f"preset: {p.adl_ranking}",
                    f"venues.{name}.collateral_oracle": f"preset: {p.collateral_oracle}",
                    f"venues.{name}.max_leverage": "preset: the tiers' cap",
                    f"venues.{name}.halt": "none; e.g. [240,300]"})
    return out


def overrides(settings: dict[str, str]) -> list[str]:
    """The command line's overrides for these settings (`key=value`, in the controls' order); an empty value
    adds none."""
    out = []
    for key, value in settings.items():
        text = "" if value is None else str(value).strip()
        if text:
            out.append(f"{key}={text}")
    return out


def check(settings: dict[str, str]) -> str | None:
    """None when `python run.py OVERRIDES` would accept these settings, else its one-line message."""
    try:
        run.preflight(overrides(settings))
    except ConfigError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001  (whatever else stops the check: one line, as the command line says it)
        return f"the config could not be checked: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
    return None


class PageModel(CascadeModel):
    """The model `python run.py OVERRIDES` runs, for Mesa's SolaraViz: `settings` is a dict of the controls'
    values or a Solara reactive holding one (Mesa's Reset builds the model again from it, as it stands then).
    Steps hold `lock` and their wall time is kept for the step rate."""

    def __init__(self, settings=None):
        s = getattr(settings, "value", settings)
        self.settings = dict(default_settings() if s is None else s)
        self.overrides = overrides(self.settings)
        super().__init__(run.model_config(run.compose_config(self.overrides)))
        self.lock = threading.RLock()
        self.step_wall_s: deque[float] = deque(maxlen=200)     # the model's own time per minute
        self.step_done_at: deque[float] = deque(maxlen=200)    # when each minute ended
        self.drawn: deque[tuple[float, int]] = deque(maxlen=30)  # (when, minute) of the page's last drawings
        inner = self.step

        def step() -> None:
            with self.lock:
                t0 = time.perf_counter()
                inner()
                t1 = time.perf_counter()
            self.step_wall_s.append(t1 - t0)
            self.step_done_at.append(t1)
        self.step = step
        self.view_state = ViewState(self)

    def note_drawn(self) -> None:
        """The page drew the charts at the current minute (the page's rate is measured between drawings)."""
        if not self.drawn or self.drawn[-1][1] != self.steps:
            self.drawn.append((time.perf_counter(), self.steps))

    def step_rate(self) -> tuple[float, float]:
        """(minutes per second on the page, stepping and drawing: over its last drawings since the last pause
        (NaN before two); the model's own milliseconds per minute, NaN before a step). A pause is a gap between
        drawings of over 3 s and over 3 times the median gap: a loaded machine may take seconds between two
        drawings while it plays, and that is its rate, not a pause."""
        run = list(self.drawn)
        gaps = [b[0] - a[0] for a, b in zip(run, run[1:])]
        pause = max(3.0, 3.0 * float(np.median(gaps))) if gaps else math.inf
        for j in range(len(run) - 1, 0, -1):
            if run[j][0] - run[j - 1][0] > pause:
                run = run[j:]
                break
        dt = run[-1][0] - run[0][0] if len(run) >= 2 else 0.0
        per_s = (run[-1][1] - run[0][1]) / dt if dt > 0 else float("nan")
        walls = list(self.step_wall_s)
        ms = 1000.0 * float(np.mean(walls)) if walls else float("nan")
        return per_s, ms


def window(m: CascadeModel, which: str) -> tuple[int, int]:
    """[first, last] minute of the time charts (see WINDOWS); never past the current minute's axis."""
    t = max(1, m.steps)
    cfg = m.cfg
    start = int(cfg.shock.start_minute) if cfg.scenario == "oct10" else None
    shock = (max(1, start - 30), min(cfg.steps, start + 240)) if start is not None and start < cfg.steps else None
    if which == "the shock" and shock:
        return shock
    if which == "last hour":
        return max(1, t - 60), max(t, 2)
    if which == "auto" and shock and t >= shock[0]:
        return shock
    return 1, max(t, 2)


@dataclass
class ViewState:
    """What the charts read from the venues' event logs, kept up to date incrementally (rows already seen are
    not read again): liquidated notional by stage per venue and every ADL fill seen so far."""

    model: CascadeModel
    seen: list[int] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    adl: list[tuple] = field(default_factory=list)    # (notional, step, venue, market, account, leverage, pnl)
    _kinds: dict[tuple[str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seen = [0] * len(self.model.venue_names)
        self.stages = {v: {s: 0.0 for s in STAGES} for v in self.model.venue_names}

    def update(self) -> None:
        """Read the event rows written since the last call (the caller holds the model's lock)."""
        m = self.model
        for vi, (name, v) in enumerate(m.venues.items()):
            cols = v.events.columns()
            n = len(cols["kind"])
            if n <= self.seen[vi]:
                continue
            sl = slice(self.seen[vi], n)
            kind, info, notional = cols["kind"][sl], cols["info"][sl], cols["notional"][sl]
            liq = kind == ev.LIQUIDATION
            for code, stage in _STAGE_CODE.items():
                self.stages[name][stage] += float(notional[liq & (info == code)].sum())
            self.stages[name]["insurance fund"] = float(v.waterfall.insurance_paid_usd)
            for j in np.flatnonzero(kind == ev.ADL):
                r = self.seen[vi] + int(j)
                acct = int(cols["account"][r])
                self.adl.append((float(cols["notional"][r]), int(cols["step"][r]), name,
                                 ASSETS[int(cols["market"][r])], acct, float(cols["info"][r]), float(cols["aux"][r])))
            self.seen[vi] = n
        if len(self.adl) > 4 * ADL_ROWS:
            self.adl = sorted(self.adl, reverse=True)[:ADL_ROWS]

    def largest_adl(self, n: int = ADL_ROWS) -> list[dict]:
        """The largest ADL fills so far: the account deleveraged, its kind, effective leverage and PnL before."""
        rows = []
        for notional, step, venue, market, acct, lev, pnl in sorted(self.adl, reverse=True)[:n]:
            rows.append({"minute": step, "venue": venue, "market": market, "notional_usd": round(notional),
                         "account": acct, "kind": self.account_kind(venue, acct), "leverage": round(lev, 2),
                         "pnl_usd": round(pnl)})
        return rows

    def account_kind(self, venue: str, account: int) -> str:
        """Which kind of agent holds this account (the map is rebuilt when an account is not in it yet:
        farmers open theirs when they enter)."""
        if (venue, account) not in self._kinds:
            self._kinds = account_kinds(self.model)
        return self._kinds.get((venue, account), "unknown")


def account_kinds(m: CascadeModel) -> dict[tuple[str, int], str]:
    """(venue, account) -> the kind of agent holding it."""
    out: dict[tuple[str, int], str] = {}
    for tr in m.traders:
        out[(tr.venue_name, tr.account)] = "directional"
    for mm in m.makers:
        out[(mm.venue_name, mm.account)] = "market maker"
    for lt in m.limit_traders:
        out[(lt.venue_name, lt.account)] = "limit-order trader"
    for vt in m.value_traders:
        out[(vt.venue_name, vt.account)] = "value trader"
    for a in m.arbs:
        out.update({(name, acct): "arbitrageur" for name, acct in a.accounts.items()})
    for f in m.farmers:
        out.update({(name, acct): "farmer" for name, acct in f.legs.items()})
    for name, v in m.venues.items():
        if v.vault is not None:
            out[(name, v.vault)] = "backstop vault"
    if m.wave is not None:
        out[(m.wave[0], m.wave[1])] = "synthetic-dollar seller"
    return out


@dataclass
class LiveView:
    """A copy of what the charts draw at one minute (taken under the model's lock)."""

    minute: int
    steps: int
    w0: int
    w1: int
    venues: list[str]
    minutes: np.ndarray          # the window's minutes up to now
    low: np.ndarray              # (minutes, venue, asset): the minute's range of book trades
    high: np.ndarray
    mark: np.ndarray
    fundamental: np.ndarray      # (minutes, asset)
    depth1: np.ndarray           # (minutes, venue, asset): resting notional within 1% of the mid
    insurance: np.ndarray        # (minutes, venue)
    vault: np.ndarray
    naked: np.ndarray            # (minutes,)
    synth: np.ndarray
    stages: dict
    adl_rows: list[dict]
    totals: dict


def live_view(m: PageModel, which: str = "auto") -> LiveView:
    """What the charts draw now, in the window `which` (WINDOWS)."""
    with m.lock:
        m.view_state.update()
        t = m.steps
        w0, w1 = window(m, which)
        sl = slice(w0, min(t, w1) + 1)
        wf = [v.waterfall for v in m.venues.values()]
        totals = {"liquidated_usd": sum(w.liquidated_usd for w in wf), "adl_usd": sum(w.adl_usd for w in wf),
                  "bad_debt_usd": sum(float(v.ch.bad_debt[0]) for v in m.venues.values()),
                  "broken_hedges": len(m.broken_log)}
        return LiveView(
            minute=t, steps=m.cfg.steps, w0=w0, w1=w1, venues=list(m.venue_names),
            minutes=np.arange(sl.start, max(sl.start, sl.stop)), low=m.ts_low[sl].copy(), high=m.ts_high[sl].copy(),
            mark=m.ts_mark[sl].copy(), fundamental=m.ts_fundamental[sl].copy(), depth1=m.ts_depth1[sl].copy(),
            insurance=m.ts_insurance[sl].copy(), vault=m.ts_vault_equity[sl].copy(), naked=m.ts_naked_usd[sl].copy(),
            synth=m.ts_synth_mid[sl].copy(), stages={v: dict(s) for v, s in m.view_state.stages.items()},
            adl_rows=m.view_state.largest_adl(), totals=totals)
