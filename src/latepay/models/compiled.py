"""Large batches are predicted by boosters compiled to machine code.

LightGBM predicts by walking each tree node by node. lleaves compiles a booster through LLVM
into native branches instead: on the champion of the benchmarks' 1M-invoice ledger (453 trees
of 15 leaves) it predicted 200,000 invoices 6x faster on two threads (0.43 s against 2.7 s).
The two agree to rounding: the sum over the trees is taken in another order. The raw
predictions differed by at most 6e-15 there; after calibration, scoring a 1M-invoice file
gave P(late) and expected days late within 2.2e-11 (relative) of LightGBM's, and the same risk
tier for every invoice. A test holds a small model's outcome to 1e-12.

Compiling costs seconds (3.3 s for those 453 trees), so only calls of at least
:data:`COMPILED_FROM_ROWS` rows use it: a scoring group at issuance, a few invoices, keeps
LightGBM, which is faster for them than any compiling. Batch scoring predicts in chunks of
100,000, so a whole file or the open invoices use the machine code for every chunk.

A booster is compiled once per process, and once per host and user: the machine code is kept
in the user's cache folder (``$XDG_CACHE_HOME/latepay/boosters``, by default under
``~/.cache``), named by what it was compiled from (the booster's text, this host's processor
and the compiler's versions), so a changed booster, another processor or another compiler
never loads it. It is not kept beside the model, whose folder may be shared, copied between
hosts or writable by others: machine code runs with the rights of whoever loads it, so it is
loaded only from a folder that the user alone owns and can write (made so when latepay creates
it; another one is not used). Code nobody loaded for :data:`KEPT_UNUSED_DAYS` is deleted
when new code is kept there.

A batch run knows early how many invoices it will predict: it calls :func:`compile_ahead`
before loading the ledger, and the compiler runs beside that load (LLVM releases the GIL), so
the first chunk finds the machine code ready or nearly so.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np

if TYPE_CHECKING:
    import lleaves

COMPILED_FROM_ROWS = 50_000
# Machine code unused this long is deleted when new code is kept: every promoted model leaves
# about a megabyte per host (the benchmarks' 1M-invoice champion, 1.3 MB), and a model
# replaced a month ago is rarely scored in bulk again (it is compiled again if it is).
KEPT_UNUSED_DAYS = 30

logger = logging.getLogger(__name__)

_compiled: weakref.WeakKeyDictionary[lgb.Booster, lleaves.Model] = weakref.WeakKeyDictionary()
# Boosters a compile_ahead() thread has yet to compile (its own lock: asking must not wait
# for a compiler at work).
_ahead: weakref.WeakSet[lgb.Booster] = weakref.WeakSet()
_ahead_lock = threading.Lock()
# One compiler at a time: two threads asking for one booster compile it once.
_compiling = threading.Lock()


def predict(booster: lgb.Booster, x: np.ndarray, *, threads: int) -> np.ndarray:
    """``booster.predict(x)``: by its compiled form for at least :data:`COMPILED_FROM_ROWS`
    rows, else by LightGBM.

    Parameters
    ----------
    booster : lgb.Booster
    x : ndarray
        Feature matrix in the booster's column order.
    threads : int
        Threads the compiled form predicts on (LightGBM uses the booster's ``num_threads``).
    """
    if len(x) < COMPILED_FROM_ROWS:
        return booster.predict(x)
    return compiled(booster).predict(x, n_jobs=threads)


def compile_ahead(boosters: Iterable[lgb.Booster], *, rows: int) -> threading.Thread | None:
    """Start compiling ``boosters`` in a thread when calls of ``rows`` rows will predict
    with them; :func:`predict` then waits for the machine code, or finds it ready.

    Returns the thread, or None when there is nothing to compile. It is not a daemon: a
    process that ends early waits for it rather than shut down beside a running compiler. A
    failure there is left to the first prediction, which compiles again and raises it.
    """
    with _ahead_lock:
        waiting = [b for b in boosters if b not in _compiled and b not in _ahead]
        if rows < COMPILED_FROM_ROWS or not waiting:
            return None
        _ahead.update(waiting)

    def compile_all() -> None:
        try:
            for booster in waiting:
                compiled(booster)
        except Exception:
            logger.debug("compiling ahead failed; predicting will compile again", exc_info=True)
        finally:
            with _ahead_lock:
                _ahead.difference_update(waiting)

    thread = threading.Thread(target=compile_all, name="latepay-compile-ahead")
    thread.start()
    return thread


def compiled(booster: lgb.Booster) -> lleaves.Model:
    """The compiled form of ``booster``, compiled (or loaded from the cache folder) on first
    use and kept while the booster lives."""
    with _compiling:
        model = _compiled.get(booster)
        if model is None:
            model = _compile(booster)
            _compiled[booster] = model
    return model


def cache_folder() -> Path:
    """Where machine code is kept: ``$XDG_CACHE_HOME/latepay/boosters``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "latepay" / "boosters"


def _compile(booster: lgb.Booster) -> lleaves.Model:
    import lleaves
    import llvmlite.binding as llvm

    text = booster.model_to_string()
    with tempfile.TemporaryDirectory(prefix="latepay-booster-") as scratch:
        text_file = Path(scratch) / "booster.txt"
        text_file.write_text(text)
        model = lleaves.Model(model_file=str(text_file))
        key = hashlib.sha256(
            "\n".join(
                [
                    text,
                    llvm.get_process_triple(),
                    llvm.get_host_cpu_name(),
                    _host_cpu_features(llvm),
                    version("lleaves"),
                    version("llvmlite"),
                ]
            ).encode()
        ).hexdigest()
        kept = _private_folder(cache_folder())
        if kept is None:
            _compile_to(model, None)
            return model
        cached = kept / f"{key}.o"
        if cached.is_file():
            _compile_to(model, cached)
            with contextlib.suppress(OSError):
                os.utime(cached)  # used now: kept for another KEPT_UNUSED_DAYS
            return model
        # Written beside and renamed: another process never reads half a file.
        fresh = Path(scratch) / "fresh.o"
        _compile_to(model, fresh)
        staged = kept / f".{key}.{os.getpid()}.tmp"
        try:
            staged.write_bytes(fresh.read_bytes())
            staged.replace(cached)
        except OSError:  # a full disk: the next process compiles again
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)
        _delete_unused(kept)
    return model


def _delete_unused(folder: Path) -> None:
    """Delete the machine code (and files a killed process left half written) that nobody
    used for :data:`KEPT_UNUSED_DAYS`."""
    unused_since = time.time() - KEPT_UNUSED_DAYS * 86_400
    for path in folder.iterdir():
        with contextlib.suppress(OSError):  # another process deleted or renamed it first
            if path.suffix in (".o", ".tmp") and path.stat().st_mtime < unused_since:
                path.unlink()


def _compile_to(model: lleaves.Model, cache: Path | None) -> None:
    # Without inlining, compiling takes less than half as long and predicting a third longer.
    model.compile(cache=None if cache is None else str(cache), finline=False)


def _private_folder(folder: Path) -> Path | None:
    """``folder``, made if need be, when only this user owns and can write it; else None
    (the machine code is then compiled in memory and not kept)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.stat()
    except OSError:
        return None
    if status.st_uid != os.getuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return folder


def _host_cpu_features(llvm) -> str:
    try:
        return llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot tell on some hosts; lleaves then compiles without them
        return ""
