"""The WebSocket side every venue shares: the socket listener, connecting with bounded waits,
and backoff with jitter between attempts."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradegw.providers.base.config import ReconnectPolicy

FrameSink = Callable[[bytes, int], None]
"""Receives each text or binary frame's payload and its ingest time (wall-clock ns)."""

HANDSHAKE_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
"""TCP connect, TLS and the WebSocket handshake together: a venue that accepts the TCP
connection and then says nothing must not hold the session forever."""


class FrameListener(WSListener):
    """Hands each data frame, stamped the moment it leaves the socket, to the provider.

    picows answers the server's protocol pings itself (``enable_auto_pong``, echoing the
    payload as Binance requires); a ping still shows the connection is alive, so it calls
    ``alive``. A close frame ends the connection.
    """

    def __init__(self, sink: FrameSink, alive: Callable[[], None]) -> None:
        super().__init__()
        self._sink = sink
        self._alive = alive

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        ingest_ts = time.time_ns()
        mt = frame.msg_type
        if mt == WSMsgType.TEXT or mt == WSMsgType.BINARY:
            self._sink(frame.get_payload_as_bytes(), ingest_ts)
        elif mt == WSMsgType.PING:
            self._alive()
        elif mt == WSMsgType.CLOSE:
            transport.disconnect()


async def connect(url: str, sink: FrameSink, alive: Callable[[], None]) -> WSTransport:
    """Opens a WebSocket to ``url`` whose frames go to ``sink``.

    Raises whatever picows raises for a refused, unreachable or timed-out connection or a
    failed handshake (``OSError``, ``TimeoutError``, ``picows.WSError``); callers retry.
    """
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        transport, _ = await ws_connect(
            lambda: FrameListener(sink, alive),
            url,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT_S,
            enable_auto_pong=True,
            # Coinbase level2 snapshots of busy products run to megabytes.
            max_frame_size=16 * 1024 * 1024,
        )
    return transport


class Backoff:
    """Exponential delays with ± jitter, so that clients cut off together do not all come
    back in the same instant."""

    def __init__(self, policy: ReconnectPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt (and counts the attempt)."""
        p = self.policy
        # The exponent stops growing once the delay has reached max_s: after a long outage
        # (hundreds of attempts) multiplier**attempt would overflow a float.
        delay = min(p.max_s, p.initial_s * p.multiplier**self.attempt)
        if delay < p.max_s:
            self.attempt += 1
        return float(delay * (1 + self._rng.uniform(-p.jitter, p.jitter)))

    def reset(self) -> None:
        """Starts over from the initial delay (after a connection that worked)."""
        self.attempt = 0
