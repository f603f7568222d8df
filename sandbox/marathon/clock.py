"""Time as the Marathon stand-in tells it: ISO 8601 timestamps with
milliseconds (Marathon's version format) and a monotonic clock for timers.
"""

import datetime
import threading
import time

_version_lock = threading.Lock()
_last_version = [datetime.datetime.min.replace(tzinfo=datetime.UTC)]


def now():
    """Seconds on the monotonic clock, for delays and deadlines."""
    return time.monotonic()


def _format(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def timestamp():
    return _format(datetime.datetime.now(datetime.UTC))


def new_version():
    """A fresh version timestamp, strictly later than every earlier one, so
    two changes in the same millisecond still get distinct versions."""
    with _version_lock:
        moment = datetime.datetime.now(datetime.UTC)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if moment <= _last_version[0]:
            moment = _last_version[0] + datetime.timedelta(milliseconds=1)
        _last_version[0] = moment
        return _format(moment)
