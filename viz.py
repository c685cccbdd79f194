"""The live page: watch a crash run and change the venues' designs (`make viz`, then open http://127.0.0.1:8765).

Built on Mesa's own visualization: `mesa.visualization.SolaraViz` gives the sidebar's play / pause, step and reset
(its `ModelController`), the play and render intervals, and re-renders the charts after each render interval
(`update_counter`). The model is `viz_model.PageModel`, the model `python run.py OVERRIDES` runs: the page's
settings are the command line's overrides, checked by the command line's own check (`run.preflight`) when a
control changes; a bad value shows its one-line message and the run's settings stay as they were. Reset builds
the model again from the last settings that passed. The charts are matplotlib figures (viz_charts.py).

Second route, /results: a sweep's results (viz_results.py); `make viz-results SWEEP=<sweep folder>`.
"""

from __future__ import annotations

import math

import pandas as pd
import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

import viz_charts as charts
from viz_model import CHOICES, VENUE_KNOBS, WINDOWS, PageModel, check, default_settings, hints, live_view, \
    overrides, venue_presets
from viz_results import ResultsPage

PLAY_INTERVAL_MS = 1
RENDER_INTERVAL = 9
"""Mesa's play loop steps RENDER_INTERVAL minutes (Step too), then the charts are drawn again; both are sliders
in the page, whose values Mesa's sliders snap to 1, 11, 21, ... ms and 1, 3, 5, ... minutes."""
LABELS = {"scenario": "scenario", "population": "population", "seed": "seed", "steps": "minutes (steps)",
          "incentives.point_value_usd": "points: USD per point", "transfers.delay_minutes": "transfer delay (min)",
          "insurance_fund_usd": "insurance fund (USD)", "backstop_vault_usd": "backstop vault (USD)",
          "adl_ranking": "ADL ranking", "collateral_oracle": "collateral oracle", "max_leverage": "leverage cap",
          "halt": "halt [start,end) minutes"}
PRESET = "(preset)"


@solara.component
def Control(key: str, label: str, draft: solara.Reactive, on_change):
    """One control: a list of values for a key that has one (CHOICES), else a text field taking what the command
    line takes (`key=<text>`); an empty field keeps the config's value, shown as the hint."""
    value = draft.value.get(key, "")
    knob = key.rpartition(".")[2]
    if knob in CHOICES:
        values = [PRESET if v == "" else v for v in CHOICES[knob]]
        solara.Select(label, values=values, value=PRESET if value == "" else value,
                      on_value=lambda v: on_change(key, "" if v == PRESET else v))
    else:
        solara.InputText(label, value=value, on_value=lambda v: on_change(key, v or ""), continuous_update=False,
                         message=hints().get(key), classes=[f"control-{key.replace('.', '-')}"])


@solara.component
def Settings(settings: solara.Reactive, model: solara.Reactive):
    """The run's settings. A change is checked at once by `run.preflight`; one that passes becomes the settings
    Mesa's Reset builds the next model from; one that fails shows the command line's one-line message."""
    draft = solara.use_reactive(dict(settings.value))
    error = solara.use_reactive(None)

    def on_change(key: str, value: str) -> None:
        new = {**draft.value, key: value}
        draft.value = new
        msg = check(new)
        error.value = msg
        if msg is None:
            settings.value = new

    with solara.Card("Run settings (the command line's overrides)", margin=0):
        with solara.Columns([1, 1, 1, 1, 1, 1]):
            for key in ("scenario", "population", "seed", "steps", "incentives.point_value_usd",
                        "transfers.delay_minutes"):
                Control(key, LABELS[key], draft, on_change)
        with solara.Columns([1] * len(venue_presets())):
            for name, preset in venue_presets().items():
                with solara.Column(gap="0px"):
                    solara.Text(f"{name} ({preset})", style={"font-weight": "500"})
                    for knob in VENUE_KNOBS:
                        Control(f"venues.{name}.{knob}", LABELS[knob], draft, on_change)
        if error.value:
            solara.Error(f"error: {error.value}", classes=["settings-error"])
        running = " ".join(model.value.overrides)
        chosen = " ".join(overrides(settings.value))
        if chosen != running:
            solara.Info(f"Reset (left) runs: python run.py {chosen}", dense=True)
        solara.Text(f"This run: python run.py {running}", classes=["run-command"])


@solara.component
def Status(model):
    """The minute, the step rate and the run's totals so far."""
    update_counter.get()
    m = model
    per_s, ms = m.step_rate()
    wf = [v.waterfall for v in m.venues.values()]
    rate = "not stepped yet" if math.isnan(ms) else \
        f"{ms:.1f} ms a minute for the model" + (
        "" if math.isnan(per_s) else f"; {per_s:,.1f} minutes/s on the page, drawing included")
    solara.Text(
        f"minute {m.steps} of {m.cfg.steps} ({m.cfg.scenario}, seed {m.cfg.seed}) · step rate: {rate} · "
        f"liquidated ${sum(w.liquidated_usd for w in wf) / 1e6:,.2f}M · ADL ${sum(w.adl_usd for w in wf) / 1e6:,.2f}M"
        f" · bad debt ${sum(float(v.ch.bad_debt[0]) for v in m.venues.values()) / 1e6:,.2f}M",
        style={"font-size": "14px", "font-weight": "500"}, classes=["run-status"])


@solara.component
def Charts(model, which: str):
    """Every chart, drawn again after each render interval."""
    update_counter.get()
    view = live_view(model, which)
    model.note_drawn()
    deps = [id(model), view.minute, which]
    figs = [charts.prices(view, "BTC"), charts.prices(view, "ALT"), charts.depth(view), charts.stages(view),
            charts.funds(view), charts.naked(view), charts.synth(view)]
    with solara.GridFixed(columns=2, row_gap="4px", column_gap="8px"):
        for k, fig in enumerate(figs):
            with solara.Div(classes=[f"chart chart-{k}"]):
                solara.FigureMatplotlib(fig, format="png", dependencies=deps + [k])
        with solara.Column(classes=["adl-table"]):
            solara.Text("The largest ADL fills: the account deleveraged, its kind, effective leverage and PnL "
                        "before the fill", style={"font-weight": "500"})
            if view.adl_rows:
                solara.DataFrame(pd.DataFrame(view.adl_rows), items_per_page=10)
            else:
                solara.Text("no ADL fill yet")


@solara.component
def LivePage():
    settings = solara.use_reactive(default_settings())   # the last settings that passed the check
    first = solara.use_memo(lambda: PageModel(settings.value), [])
    model = solara.use_reactive(first)
    which = solara.use_reactive("auto")
    SolaraViz(model, components=[], model_params={"settings": settings}, play_interval=PLAY_INTERVAL_MS,
              render_interval=RENDER_INTERVAL, name="perp-cascades: a crash, live")
    with solara.Column(style={"padding": "8px"}):
        Settings(settings, model)
        with solara.Row():
            solara.ToggleButtonsSingle(value=which, values=list(WINDOWS), dense=True)
        Status(model.value)
        Charts(model.value, which.value)


routes = [
    solara.Route(path="/", component=LivePage, label="live"),
    solara.Route(path="results", component=ResultsPage, label="results"),
]
