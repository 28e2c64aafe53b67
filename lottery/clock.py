"""The draw's clock: `now()` is the database's time, except inside `at(moment)`.

Draw timestamps are published and replayed (a reveal counts only between the freeze and the
deadline), so they are taken once, truncated to the second, from this one function, and from
the database's clock (`audit.database_now`): every web and worker process reads the same one.
`at()` exists for the demo command, which walks a past window through its timeline, and for
tests.
"""

import contextlib
import contextvars
from datetime import datetime

from accounts import audit

_fixed: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("draw_now", default=None)


def now() -> datetime:
    moment = _fixed.get() or audit.database_now()
    return moment.replace(microsecond=0)


@contextlib.contextmanager
def at(moment: datetime):
    token = _fixed.set(moment)
    try:
        yield
    finally:
        _fixed.reset(token)
