"""A module's compiled kernels loaded from numba's on-disk cache when the module is imported.

A kernel declared with explicit signatures (book_kernels.py, ladder_nb.py, agents/maker_nb.py) is loaded from the
cache as its module is imported. One compiled lazily (`@njit(cache=True)`, typed by its first call) is loaded at
its first call instead: in a run, inside the model's first minutes (the default day loaded 14 such overloads
there, 0.13 s). `preload(globals(), names)` at the end of such a module loads, at import, the overloads the cache
holds for its kernels `names` as they are now (numba's cache index, keyed by signature and the function's code:
what `python -m venues.warm`, earlier runs and tests compiled), so they load with the module, as the others do.
This moves the loading out of a run's wall_s into the import (settled rule 12 counts neither imports nor
interpreter start); it does not make it cheaper.

It only loads: an index entry whose data file is missing or unreadable is skipped (the kernel compiles on first
call, as without this), never compiled here. A kernel's other signatures still compile on first call; a cache
this numba cannot read (another version, a changed source file) loads nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import numba
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

ROOT = Path(__file__).resolve().parents[1]
KERNEL_DIRS = ("venues", "agents")
_USER_CACHE_DIR = numba.config.CACHE_DIR   # NUMBA_CACHE_DIR as numba read it, before use_digest_cache sets its own
_PROJECT_IMPORT = re.compile(r"^\s*from (?:\.|venues\.|agents\.)(\w+) import", re.M)


def kernel_sources(root: Path = ROOT) -> list[Path]:
    """The files whose contents a compiled kernel can hold: the project's files that define numba kernels (they
    mention `njit`) and the project modules those import from (constants such as BUY and SELL are compiled in)."""
    kernels = [p for d in KERNEL_DIRS for p in (root / d).glob("*.py") if "njit" in p.read_text()]
    files = set(kernels)
    for p in kernels:
        for name in _PROJECT_IMPORT.findall(p.read_text()):
            files.update(q for d in KERNEL_DIRS if (q := root / d / f"{name}.py").is_file())
    return sorted(files)


def source_digest(root: Path = ROOT) -> str:
    """SHA-256 (hex) of the kernel sources' paths and contents."""
    h = hashlib.sha256()
    for p in kernel_sources(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def use_digest_cache(root: Path = ROOT, keep_hours: float = 24.0) -> Path | None:
    """Point numba's on-disk cache, for every kernel defined from now on in this process, at a folder named by
    the kernel sources' digest (venues/__pycache__/numba-<digest>, or inside NUMBA_CACHE_DIR when that is set);
    returns the folder, or None when it cannot be written (numba's own choice stays).

    numba keys a cached kernel by its own file's timestamp and size only: a kernel compiled with another file's
    kernel inside (orders_nb's order kernels call fills_nb's, batch_nb's call orders_nb's, maker_nb's call
    ladder_nb's, the order book bench's driver calls book_kernels') kept the callee's old code after the callee's
    file changed. Here sources that differ in any kernel file, or in a module one imports from, never share a
    cache: a new digest starts empty (the kernels compile on first use, about 40 s; `python -m venues.warm` does
    it ahead), and a process still running older code writes only into its own digest's folder. Folders of other
    digests not written for `keep_hours` are removed. Runs when `venues` is imported, before any kernel is
    defined (venues/__init__.py); about 2 ms. A NUMBA_* environment variable changed later in the process makes
    numba re-read its settings, and the kernels defined after that go to numba's own choice."""
    digest = source_digest(root)
    base = Path(_USER_CACHE_DIR) if _USER_CACHE_DIR else root / KERNEL_DIRS[0] / "__pycache__"
    folder = base / f"numba-{digest[:20]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{id(folder)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return None
    numba.config.CACHE_DIR = str(folder)
    cutoff = time.time() - keep_hours * 3600.0
    for old in base.glob("numba-*"):
        try:
            if old != folder and max((f.stat().st_mtime for f in old.rglob("*")), default=0.0) < cutoff:
                for f in sorted(old.rglob("*"), reverse=True):
                    f.rmdir() if f.is_dir() else f.unlink()
                old.rmdir()
        except OSError:   # another process at it, or in use: left for next time
            pass
    return folder


def _load_only(kernel: Dispatcher, sig) -> bool:
    """Dispatcher.compile's cache-hit branch alone (numba/core/dispatcher.py): add the overload the disk cache
    holds for `sig`; False, adding nothing, when the cache cannot give it."""
    with global_compiler_lock:
        cres = kernel._cache.load_overload(sig, kernel.targetctx)
        if cres is None:
            return False
        kernel._cache_hits[sig] += 1
        if not cres.objectmode:
            kernel.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        kernel.add_overload(cres)
        return True


def preload(namespace: dict, names: tuple[str, ...]) -> int:
    """Load the cached overloads of the numba kernels `names` defined in the module whose globals are
    `namespace` (a name that is not a kernel of that module is skipped); returns how many were loaded. Uses
    numba's cache index, guarded: on any error a kernel is left to load or compile on first call."""
    module = namespace.get("__name__")
    n = 0
    for name in names:
        kernel = namespace.get(name)
        if not isinstance(kernel, Dispatcher) or getattr(kernel.py_func, "__module__", None) != module:
            continue
        try:
            cache = kernel._cache
            index = cache._cache_file._load_index()
            codegen = kernel.targetctx.codegen()
            for key in index:
                sig = key[0]
                if sig not in kernel.overloads and key == cache._index_key(sig, codegen) and _load_only(kernel, sig):
                    n += 1
        except Exception:   # pragma: no cover - another numba's cache layout: load on first call
            continue
    return n
