"""Request weight per IP, Binance's way: a fixed window (one minute on the venue), 429 once
the window's weight is spent, 418 (an IP ban) for requests that keep coming during the
back-off a 429 asked for.

Every request's weight is added to its IP's window before it is judged, so the used weight a
response reports (``X-MBX-USED-WEIGHT-1M``) includes that request, as on the venue. A 429's
``Retry-After`` runs to the end of the window; requests before then are banned for
``ban_s`` (the venue's first ban is two minutes, growing with repeats up to three days; the
simulator keeps one length). Requests answered 418 cost no weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class _IpState:
    window: int = -1
    used: int = 0
    backoff_until: float = 0.0
    banned_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """How to answer one request: ``status`` 200 (serve it), 429 or 418, the weight used in
    the window so far and, when refused, ``Retry-After`` in whole seconds."""

    status: int
    used: int
    retry_after: int = 0
    banned_until: float = 0.0
    """Wall-clock seconds the ban ends at (418 only)."""


class WeightLimiter:
    """The request-weight ledger of one simulator run."""

    def __init__(self, limit: int, window_s: float, ban_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.ban_s = ban_s
        self._ips: dict[str, _IpState] = {}
        self.refused_429 = 0
        self.refused_418 = 0

    def _state(self, ip: str, now: float) -> _IpState:
        st = self._ips.get(ip)
        if st is None:
            st = self._ips[ip] = _IpState()
        window = math.floor(now / self.window_s)
        if window != st.window:
            st.window = window
            st.used = 0
        return st

    def used(self, ip: str, now: float) -> int:
        """The weight ``ip`` has used in the current window."""
        return self._state(ip, now).used

    def charge(self, ip: str, weight: int, now: float) -> Verdict:
        """Judge one request of ``weight`` from ``ip`` at wall-clock ``now`` (seconds)."""
        st = self._state(ip, now)
        if now < st.banned_until:
            self.refused_418 += 1
            return Verdict(418, st.used, _ceil(st.banned_until - now), st.banned_until)
        if now < st.backoff_until:
            st.banned_until = now + self.ban_s
            self.refused_418 += 1
            return Verdict(418, st.used, _ceil(self.ban_s), st.banned_until)
        st.used += weight
        if st.used > self.limit:
            st.backoff_until = (st.window + 1) * self.window_s
            self.refused_429 += 1
            return Verdict(429, st.used, _ceil(st.backoff_until - now))
        return Verdict(200, st.used)


def _ceil(seconds: float) -> int:
    """Whole seconds, at least one (``Retry-After`` has no fractions)."""
    return max(1, math.ceil(seconds))
