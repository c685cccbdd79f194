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

import fcntl
import hashlib
import os
from pathlib import Path

from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

KERNEL_DIRS = ("venues", "agents")
STAMP = "nb_sources.stamp"


def kernel_sources(root: Path) -> list[Path]:
    """The project's files that define numba kernels (they mention `njit`), in a fixed order."""
    return sorted(p for d in KERNEL_DIRS for p in (root / d).glob("*.py") if "njit" in p.read_text())


def clear_stale(root: Path = Path(__file__).resolve().parents[1]) -> int:
    """Remove the project's numba caches when any kernel source changed since they were written; returns how many
    cache files it removed.

    numba keys a cached kernel by its own file's timestamp and size only: a kernel that calls another file's kernel
    (orders_nb's order kernels call fills_nb's, batch_nb's call orders_nb's, maker_nb's call ladder_nb's, ...)
    keeps the callee's old code, compiled into its own cache entry, after the callee's file changes. A stamp of
    every kernel file's contents is kept in venues/__pycache__; when it differs from the sources (or is missing),
    the caches in venues/__pycache__ and agents/__pycache__ are removed, under a lock, and the stamp written: the
    kernels compile anew on first use (`python -m venues.warm` does it ahead). Only these in-tree caches are
    checked (not a NUMBA_CACHE_DIR elsewhere); a folder that cannot be written is left alone."""
    h = hashlib.sha256()
    for p in kernel_sources(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    digest = h.hexdigest()
    cache = root / KERNEL_DIRS[0] / "__pycache__"
    stamp = cache / STAMP
    try:
        if stamp.read_text() == digest:
            return 0
    except OSError:
        pass
    removed = 0
    try:
        cache.mkdir(exist_ok=True)
        with open(cache / "nb_sources.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # another process may be clearing them: the first does, once
            try:
                if stamp.read_text() == digest:
                    return 0
            except OSError:
                pass
            for d in KERNEL_DIRS:
                for f in (root / d / "__pycache__").glob("*.nb[ic]"):
                    f.unlink(missing_ok=True)
                    removed += 1
            tmp = stamp.with_name(f"{STAMP}.{os.getpid()}")
            tmp.write_text(digest)
            os.replace(tmp, stamp)
    except OSError:   # a read-only checkout: numba caches elsewhere, or not at all
        pass
    return removed


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
