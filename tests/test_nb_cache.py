"""The lazily typed kernels' cached overloads are loaded when their modules are imported (venues/nb_cache.py), so a
run's first minutes load nothing: after `python -m venues.warm`, a fresh process that imports the model and runs
a small world compiles or loads no overload of those modules' kernels on a call. preload only loads: an index
entry whose data file is gone is skipped, not compiled at import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, logging, sys
sys.path.insert(0, ".")
import agents.directional_nb, agents.streams_nb, venues.batch_nb, venues.fills_nb, venues.margin_nb
from numba.core.dispatcher import Dispatcher
mods = (venues.margin_nb, venues.batch_nb, venues.fills_nb, agents.directional_nb, agents.streams_nb)
def counts():
    return {f"{m.__name__}.{k}": len(v.overloads) for m in mods for k, v in vars(m).items()
            if isinstance(v, Dispatcher) and v.py_func.__module__ == m.__name__}
before = counts()
from run import build_model
logging.getLogger("MESA").setLevel(logging.WARNING)
m = build_model(["population=small", "steps=400", "dashboard=false", "progress=false"])
m.run_for(400)
after = counts()
print(json.dumps({"loaded_at_import": sum(before.values()),
                  "on_call": {k: after[k] - before[k] for k in after if after[k] != before[k]}}))
"""


@pytest.mark.slow
def test_a_run_loads_no_kernel_on_call_after_warm():
    """400 minutes of the small world (past its warm-up and into the oct10 shock) after warm: every overload
    its calls use was loaded at import."""
    subprocess.run([sys.executable, "-m", "venues.warm"], cwd=ROOT, check=True, capture_output=True)
    r = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, check=True, capture_output=True, text=True)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["loaded_at_import"] >= 10
    assert out["on_call"] == {}


def test_preload_skips_what_is_not_the_modules_own_kernel():
    import agents.directional_nb as dn
    from venues.nb_cache import preload
    assert preload({"__name__": "nowhere", "x": 1}, ("x", "y")) == 0
    # withdrawable_one is margin_nb's kernel, imported into directional_nb: not directional_nb's to load
    assert dn.withdrawable_one.py_func.__module__ == "venues.margin_nb"
    assert preload(vars(dn), ("withdrawable_one",)) == 0


_MOD = """
from numba import njit
from venues.nb_cache import preload

@njit(cache=True)
def k_twice(x):
    return 2 * x

loaded = preload(globals(), ("k_twice",))
"""


@pytest.mark.slow
def test_preload_loads_a_cached_overload_and_never_compiles(tmp_path):
    """A module's kernel compiled and cached by one process is loaded by the next at import; with the cache's
    data file deleted, the next import loads nothing and compiles nothing (the kernel compiles on first call)."""
    (tmp_path / "nbmod.py").write_text(_MOD)
    env_path = f"{tmp_path}:{ROOT}"
    run = textwrap.dedent("""
        import sys; sys.path[:0] = sys.argv[1].split(":")
        import nbmod
        at_import = len(nbmod.k_twice.overloads)
        print(nbmod.loaded, at_import, nbmod.k_twice(21))
    """)

    def once():
        r = subprocess.run([sys.executable, "-c", run, env_path], cwd=tmp_path, check=True, capture_output=True,
                           text=True)
        loaded, overloads, value = r.stdout.split()
        return int(loaded), int(overloads), int(value)

    assert once() == (0, 0, 42)          # nothing cached yet: compiled on the call, and cached
    assert once() == (1, 1, 42)          # loaded at import; the call used it
    from venues.nb_cache import use_digest_cache
    folder = use_digest_cache()          # numba's cache folder of this checkout's kernel sources (the module's too)
    data = list(folder.rglob("nbmod.k_twice*.nbc"))
    assert data
    for f in data:
        f.unlink()
    assert once() == (0, 0, 42)          # index without its data file: nothing loaded, nothing compiled at import
