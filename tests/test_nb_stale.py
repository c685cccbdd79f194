"""numba keys a cached kernel by its own file only, so a kernel compiled with another file's kernel inside kept the
callee's old code after the callee changed (it happened: orders_nb's cached kernels ran a fill settlement that had
moved to fills_nb). venues.nb_cache.use_digest_cache names numba's cache folder by the kernel sources' digest:
changed sources never share a cache, not even with a process that was still running the old code. And the fill
kernels' Python wrappers check the bounds numba does not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numba
import pytest

import venues.fills_nb
from venues.nb_cache import kernel_sources, source_digest, use_digest_cache

ROOT = Path(__file__).resolve().parents[1]


def test_the_digest_follows_kernel_files_and_what_they_import_only(tmp_path):
    (tmp_path / "venues").mkdir()
    (tmp_path / "agents").mkdir()
    k = tmp_path / "venues" / "k.py"
    k.write_text("from numba import njit\nfrom .consts import BUY\n@njit(cache=True)\ndef f(x):\n    return x + BUY\n")
    consts = tmp_path / "venues" / "consts.py"
    consts.write_text("BUY = 1\n")
    plain = tmp_path / "agents" / "plain.py"
    plain.write_text("X = 1\n")
    assert [p.name for p in kernel_sources(tmp_path)] == ["consts.py", "k.py"]
    d0 = source_digest(tmp_path)
    plain.write_text("X = 2\n")
    assert source_digest(tmp_path) == d0
    consts.write_text("BUY = 2\n")                       # compiled into k's kernels as a constant
    d1 = source_digest(tmp_path)
    k.write_text(k.read_text().replace("x + BUY", "x - BUY"))
    assert len({d0, d1, source_digest(tmp_path)}) == 3


def test_the_projects_kernels_cache_in_the_folder_of_their_digest():
    folder = use_digest_cache()
    assert folder is not None and folder.name == f"numba-{source_digest()[:20]}"
    assert numba.config.CACHE_DIR == str(folder)
    assert Path(venues.fills_nb.k_fill._cache._cache_path).is_relative_to(folder)


_PROC = textwrap.dedent("""
    import sys
    sys.path[:0] = [sys.argv[1], sys.argv[2] + "/agents"]
    from venues.nb_cache import use_digest_cache
    from pathlib import Path
    use_digest_cache(Path(sys.argv[2]))
    import caller
    mode = sys.argv[3]
    if mode == "wait":
        sys.stdin.readline()          # the callee's file changes meanwhile
    print(caller.g(1), caller.g(1.0) if mode != "one" else "")
""")


@pytest.mark.slow
def test_a_changed_callee_is_never_run_from_an_old_cache(tmp_path):
    agents = tmp_path / "agents"
    agents.mkdir()
    (tmp_path / "venues").mkdir()
    callee = agents / "callee.py"
    callee.write_text("from numba import njit\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    (agents / "caller.py").write_text("from numba import njit\nfrom callee import f\n"
                                      "@njit(cache=True)\ndef g(x):\n    return f(x)\n")

    def run(mode="one"):
        return subprocess.run([sys.executable, "-c", _PROC, str(ROOT), str(tmp_path), mode], capture_output=True,
                              text=True, check=True, cwd=tmp_path).stdout.split()

    assert run() == ["2"]                                  # compiled and cached
    assert run() == ["2"]                                  # from the cache
    # a process that imported the old code and is still running
    old = subprocess.Popen([sys.executable, "-c", _PROC, str(ROOT), str(tmp_path), "wait"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while not list(tmp_path.rglob("caller.g*.nbi")) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)                                    # its imports done, waiting on stdin
        callee.write_text(callee.read_text().replace("x + 1", "x + 100"))
        assert run() == ["101"]                            # the new callee, though caller.py did not change
        out, err = old.communicate("\n", timeout=120)      # the old process compiles g(1.0) with its old f
        assert out.split() == ["2", "2.0"], err
    finally:
        if old.poll() is None:
            old.kill()
    assert run("both") == ["101", "101.0"]                # not the old process's g(1.0)


def test_the_fill_wrappers_refuse_an_account_or_market_out_of_range():
    """The compiled fill kernels check no bounds (numba): the Python wrappers do, before anything is written."""
    import numpy as np
    from venues.clearinghouse import Clearinghouse, TierTable
    from venues.params import Tier
    ch = Clearinghouse([("BTC", 0.001, TierTable([Tier(float("inf"), 50.0, 0.005)]))], ["USD"], capacity=16)
    ch.open_account(False, np.array([10.0]))
    ch.apply_fill(0, 0, 3, 100.0)                          # in range: fine
    before = (ch.lots.copy(), ch.bal.copy(), list(ch.oi_long_lots))
    for i, m in ((ch.n, 0), (-1, 0), (0, 1), (20, 0)):
        with pytest.raises(IndexError):
            ch.apply_fill(i, m, 3, 100.0)
        with pytest.raises(IndexError):
            ch.settle_maker(i, m, 1, 3, 100.0, 0.0)
    assert (ch.lots == before[0]).all() and (ch.bal == before[1]).all() and ch.oi_long_lots == before[2] == [3]
