"""Chronos' ISO 8601 repeating intervals, ``R[n]/<start>/<duration>``, as
the stand-in reads, advances and writes them back.
"""

import datetime
import re

from dateutil.relativedelta import relativedelta

SCHEDULE = re.compile(r"R(?P<repeats>\d*)/(?P<start>[^/]+)/(?P<period>P[^/]+)")
DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
INFINITE = -1
# Calendar periods (months, years) are stepped one by one; this bounds it.
MAX_STEPS = 1_000_000


class ScheduleError(ValueError):
    """A schedule or duration Chronos would refuse."""


class Schedule:
    """``repeats`` (INFINITE for a bare ``R``), ``start`` (aware UTC) and ``period``."""

    def __init__(self, repeats, start, period, period_text):
        self.repeats = repeats
        self.start = start
        self.period = period
        self.period_text = period_text

    @classmethod
    def parse(cls, text):
        match = SCHEDULE.fullmatch(text or "") if isinstance(text, str) else None
        if match is None:
            raise ScheduleError(f"invalid schedule {text!r}: expected R[n]/<start>/<duration>")
        repeats = int(match["repeats"]) if match["repeats"] else INFINITE
        return cls(
            repeats, parse_start(match["start"]), parse_duration(match["period"]), match["period"]
        )

    def text(self):
        repeats = "" if self.repeats == INFINITE else str(self.repeats)
        return f"R{repeats}/{format_moment(self.start)}/{self.period_text}"

    def exhausted(self):
        return self.repeats == 0

    def advance(self):
        """Move to the next occurrence; a finite count goes down by one."""
        self.start = self.start + self.period
        if self.repeats > 0:
            self.repeats -= 1


def parse_start(text):
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"invalid start {text!r} in schedule") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def parse_duration(text):
    """An ISO 8601 duration as a relativedelta; zero or malformed -> ScheduleError."""
    match = DURATION.fullmatch(text or "")
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ScheduleError(f"invalid duration {text!r}")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    seconds = parts.pop("seconds", 0.0)
    delta = relativedelta(
        years=int(parts.get("years", 0)),
        months=int(parts.get("months", 0)),
        weeks=int(parts.get("weeks", 0)),
        days=int(parts.get("days", 0)),
        hours=int(parts.get("hours", 0)),
        minutes=int(parts.get("minutes", 0)),
        seconds=int(seconds),
        microseconds=round((seconds % 1) * 1_000_000),
    )
    reference = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    if reference + delta <= reference:
        raise ScheduleError(f"duration {text!r} is zero")
    return delta


def duration_seconds(text):
    reference = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return ((reference + parse_duration(text)) - reference).total_seconds()


def format_moment(moment):
    """Chronos writes instants in UTC with milliseconds: 2026-11-28T03:00:00.000Z."""
    moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
