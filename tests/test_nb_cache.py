"""The lazily typed kernels' cached overloads are loaded when their modules are imported (venues/nb_cache.py), so a
run's first minutes load nothing: after `python -m venues.warm`, a fresh process that imports the model and runs
a small world compiles or loads no overload of those modules' kernels on a call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, logging, sys
sys.path.insert(0, ".")
import agents.directional_nb, agents.streams_nb, venues.batch_nb, venues.margin_nb
from numba.core.dispatcher import Dispatcher
mods = (venues.margin_nb, venues.batch_nb, agents.directional_nb, agents.streams_nb)
def counts():
    return {f"{m.__name__}.{k}": len(v.overloads) for m in mods for k, v in vars(m).items()
            if isinstance(v, Dispatcher) and v.py_func.__module__ == m.__name__}
before = counts()
from run import build_model
logging.getLogger("MESA").setLevel(logging.WARNING)
m = build_model(["population=small", "steps=30", "dashboard=false", "progress=false"])
m.run_for(30)
after = counts()
print(json.dumps({"loaded_at_import": sum(before.values()),
                  "on_call": {k: after[k] - before[k] for k in after if after[k] != before[k]}}))
"""


@pytest.mark.slow
def test_a_run_loads_no_kernel_on_call_after_warm():
    subprocess.run([sys.executable, "-m", "venues.warm"], cwd=ROOT, check=True, capture_output=True)
    r = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, check=True, capture_output=True, text=True)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["loaded_at_import"] >= 10
    assert out["on_call"] == {}


def test_preload_counts_only_the_modules_own_kernels():
    from venues.nb_cache import preload
    assert preload({"__name__": "nowhere", "x": 1}) == 0
