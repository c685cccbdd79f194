"""numba's cache keys a kernel by its own file only, so a kernel that calls another file's kernel kept the callee's
old code after the callee changed (it happened: orders_nb's kernels, cached, ran a fill settlement that had moved to
fills_nb). venues.nb_cache.clear_stale empties the project's kernel caches whenever a kernel file's contents change.
Here on a copy of the layout in a temporary folder (fake cache files; nothing is compiled)."""

from __future__ import annotations

from pathlib import Path

from venues.nb_cache import STAMP, clear_stale, kernel_sources


def _tree(root: Path) -> tuple[Path, Path]:
    for d in ("venues", "agents"):
        (root / d / "__pycache__").mkdir(parents=True)
    callee = root / "venues" / "fills_nb.py"
    callee.write_text("from numba import njit\n@njit(cache=True)\ndef k(x):\n    return x + 1\n")
    (root / "venues" / "plain.py").write_text("X = 1\n")          # no kernel: not part of the stamp
    (root / "agents" / "maker_nb.py").write_text("from numba import njit\n")
    return callee, root / "venues" / "plain.py"


def _caches(root: Path, tag: str) -> list[Path]:
    files = [root / "venues" / "__pycache__" / f"orders_nb.k_submit-1.py312.{tag}.nbi",
             root / "venues" / "__pycache__" / f"orders_nb.k_submit-1.py312.{tag}.nbc",
             root / "agents" / "__pycache__" / f"maker_nb.k-1.py312.{tag}.nbi"]
    for f in files:
        f.write_bytes(b"cache")
    return files


def test_a_changed_kernel_file_empties_every_kernel_cache_and_nothing_else_does(tmp_path):
    callee, plain = _tree(tmp_path)
    other = tmp_path / "venues" / "__pycache__" / "fills_nb.cpython-312.pyc"
    other.write_bytes(b"bytecode")
    assert [p.name for p in kernel_sources(tmp_path)] == ["maker_nb.py", "fills_nb.py"]
    first = _caches(tmp_path, "a")
    assert clear_stale(tmp_path) == 3                      # no stamp: caches of unknown sources go
    assert not any(f.exists() for f in first) and other.exists()
    assert (tmp_path / "venues" / "__pycache__" / STAMP).exists()
    kept = _caches(tmp_path, "b")                          # written by the kernels as they are now
    assert clear_stale(tmp_path) == 0 and all(f.exists() for f in kept)
    plain.write_text("X = 2\n")                            # not a kernel file
    assert clear_stale(tmp_path) == 0 and all(f.exists() for f in kept)
    callee.write_text(callee.read_text().replace("x + 1", "x + 2"))   # a callee's kernel changes
    assert clear_stale(tmp_path) == 3 and not any(f.exists() for f in kept)
    assert other.exists()
    again = _caches(tmp_path, "c")
    assert clear_stale(tmp_path) == 0 and all(f.exists() for f in again)


def test_the_projects_stamp_is_current_after_import():
    """Importing venues ran clear_stale: the stamp matches the sources, so a second call removes nothing."""
    assert clear_stale() == 0
