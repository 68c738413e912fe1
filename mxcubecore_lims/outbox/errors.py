"""The outbox's errors, and the test that tells "the LIMS did not answer" from a refusal."""

from __future__ import annotations

import gevent

from mxcubecore_lims.errors import LimsError, LimsUnavailableError


class OutboxError(LimsError):
    """The journal cannot be used (unreadable file, wrong schema)."""


class OutboxFullError(OutboxError):
    """The journal holds ``max_pending`` undelivered records; the write is refused."""


def is_unavailable(error: BaseException) -> bool:
    """True when an error means "the LIMS did not answer" (anywhere in its chain)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, (LimsUnavailableError, gevent.Timeout, TimeoutError, ConnectionError)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
