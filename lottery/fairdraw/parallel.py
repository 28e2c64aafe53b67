"""Entry keys computed on two cores: half in a forked child process, half in this one.

Ticket hashing is the bulk of a draw and is embarrassingly parallel. Each half runs the same
``entry_keys`` over a contiguous slice of the entries, so the merged list is bit-identical to
the single-process one. ``os.fork`` is used directly (not ``multiprocessing``) because the child
needs the entries already in memory, and because ``multiprocessing`` refuses to start children
from daemonic processes such as Celery's prefork workers. Any failure of the child falls back to
computing its half here: the result never depends on whether the fork worked.

Use it from single-threaded processes (the command line, a benchmark, a Celery prefork worker),
not from a multi-threaded web server: a fork copies only the calling thread, and a lock held by
another thread at that moment would stay locked in the child.
"""

import os
from collections.abc import Sequence

from .canonical import Entry
from .engine import entry_keys, keys_from_prefixes, ticket_prefixes

MIN_ENTRIES = 20_000  # below this a fork costs more than it saves


def entry_keys_forked(entries: Sequence[Entry], key: bytes, workers: int = 2) -> list[bytes]:
    """Same result as ``engine.entry_keys(entries, key)``, using up to two processes."""
    if workers < 2 or len(entries) < MIN_ENTRIES or not hasattr(os, "fork"):
        return entry_keys(entries, key)
    prefixes, weights = ticket_prefixes(entries)
    half = len(entries) // 2
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return keys_from_prefixes(prefixes, weights, key)
    if pid == 0:  # pragma: no cover (runs in the child; checked through its output)
        _child(prefixes[half:], weights[half:], key, read_end, write_end)
    os.close(write_end)
    reader = os.fdopen(read_end, "rb")
    try:
        keys = keys_from_prefixes(prefixes[:half], weights[:half], key)
        blob = reader.read()
    finally:
        reader.close()  # a child still writing then fails with EPIPE and exits
        _, status = os.waitpid(pid, 0)
    if status != 0 or len(blob) != 32 * (len(prefixes) - half):
        return keys + keys_from_prefixes(prefixes[half:], weights[half:], key)
    keys.extend(blob[i : i + 32] for i in range(0, len(blob), 32))
    return keys


def _child(prefixes, weights, key: bytes, read_end: int, write_end: int) -> None:
    code = 1
    try:
        os.close(read_end)
        blob = b"".join(keys_from_prefixes(prefixes, weights, key))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(blob)
        code = 0
    finally:
        os._exit(code)  # never return into the parent's code (no atexit, no test runner)
