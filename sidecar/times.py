"""How people write times and durations to pva, read in one place: settings, query parameters, ``--expires``.

A time without a zone is UTC (query parameters, forms and the command line
alike). A duration is a whole number and a unit (``10s``, ``30m``, ``2h``,
``7d``); settings also take ISO 8601 (``PT30M``) and ``HH:MM:SS``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

DURATION_FORMS = "a number and a unit (10s, 30m, 2h, 7d)"
_DURATION = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a time without a zone is taken to be UTC already.

    ValueError when it cannot be held in UTC (a time within hours of year 1
    or of the end of year 9999 in another zone).
    """
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is too close to year 1 or 9999 to hold in UTC") from None


def short_duration(text: str) -> timedelta | None:
    """``10s``, ``30m``, ``2h`` or ``7d`` as a timedelta; None when ``text`` is not of that form."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        return None
    return timedelta(**{_UNITS[found[2]]: int(found[1])})
