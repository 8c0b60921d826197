"""One client connection on a simulator's WebSocket: how frames get out, for every venue.

picows calls the listener straight from the event loop's read callback, so a request is
answered synchronously. Outgoing frames are framed here and collected per connection until the
event loop's next turn, then written with one ``write`` (one syscall) per connection: at tens
of thousands of frames a second a syscall per frame would cost more than building the frames.
When ``stamp_send_ns`` is on (latency benches) every frame is written at once instead, so the
stamp is the real send time. A client that lets its transport buffer grow past
``max_write_buffer`` is cut off, as real venues do with slow consumers.

A venue subclasses :class:`SimConnection` for its requests and acks (:meth:`on_text`), its
greeting (:meth:`on_open`), its idle heartbeat (:meth:`heartbeat`) and its malformed frame.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import ClassVar

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from tradegw.sim.faults import FaultInjector
from tradegw.sim.stats import SimStats
from tradegw.sim.wire import DataFrame, stamp, ws_text_header

HOLD_LIMIT = 1.0
"""Seconds a reordered frame may wait for its successor before it is sent anyway."""


@dataclass(slots=True)
class ConnectionContext:
    """What every connection of one simulator shares."""

    stats: SimStats
    injector: FaultInjector | None
    stamp_send_ns: bool
    max_write_buffer: int
    heartbeat_interval: float
    connections: set[SimConnection] = field(default_factory=set)
    pending: list[SimConnection] = field(default_factory=list)
    """Connections with frames waiting for the flush at the loop's next turn."""
    flush_scheduled: bool = False

    def schedule(self, conn: SimConnection) -> None:
        """Remember that ``conn`` has frames to write; flush them at the loop's next turn."""
        self.pending.append(conn)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write out everything queued since the last flush."""
        self.flush_scheduled = False
        pending, self.pending = self.pending, []
        for conn in pending:
            conn.flush()


class SimConnection(WSListener):
    """The server side of one WebSocket connection, minus the venue's protocol."""

    malformed_frame: ClassVar[bytes] = b'{"'
    """What the ``bad_json`` fault sends: a venue overrides it with its own frame cut short."""

    def __init__(self, ctx: ConnectionContext) -> None:
        self._ctx = ctx
        self._transport: WSTransport | None = None
        self._held: dict[tuple[str, str], tuple[DataFrame, float]] = {}
        self._stall_until = 0.0
        self._paused = False
        self._out: list[bytes] = []
        self.closed = False
        self.last_send = time.monotonic()

    # ------------------------------------------------------------------ venue hooks

    def on_open(self) -> None:
        """The connection is up (send the venue's greeting here). Does nothing by default."""

    def on_close(self) -> None:
        """The connection is gone (drop its subscriptions here). Does nothing by default."""

    def on_text(self, payload: bytes) -> None:
        """A text frame from the client: the venue's request handling (it must implement it).

        Raises:
            NotImplementedError: always, here.
        """
        raise NotImplementedError

    def on_binary(self, payload: bytes) -> None:
        """A binary frame from the client. Ignored by default."""

    def heartbeat(self) -> bytes | None:
        """The frame to send after ``heartbeat_interval`` of silence, or None for none (the
        default)."""
        return None

    def render(self, frame: DataFrame) -> bytes:
        """This connection's bytes of a shared data frame (the frame's own by default; a venue
        that numbers frames per connection rewrites them here)."""
        return frame.data

    # ------------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self._ctx.connections.add(self)
        self._ctx.stats.connections_open += 1
        self._ctx.stats.connections_total += 1
        self.on_open()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        self._ctx.connections.discard(self)
        self._ctx.stats.connections_open -= 1
        self._held.clear()
        self.on_close()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT:
            self._ctx.stats.ws_requests += 1
            self.on_text(frame.get_payload_as_bytes())
        elif msg_type == WSMsgType.CLOSE:
            self.close(frame.get_close_code())
        elif msg_type == WSMsgType.BINARY:
            self.on_binary(frame.get_payload_as_bytes())

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    # ------------------------------------------------------------------ sending

    def _write(self, payload: bytes) -> bool:
        """Queue (or, when stamping, send) one text frame; False if it cannot go out."""
        if self.closed or self._transport is None:
            return False
        if self._stall_until:
            if time.monotonic() < self._stall_until:
                self._ctx.stats.suppressed += 1
                return False
            self._stall_until = 0.0
        if self._ctx.stamp_send_ns:
            if not self._writable():
                return False
            self._transport.send(WSMsgType.TEXT, payload)
            self.last_send = time.monotonic()
            return True
        if not self._out:
            self._ctx.schedule(self)
        self._out.append(ws_text_header(len(payload)))
        self._out.append(payload)
        return True

    def _writable(self) -> bool:
        assert self._transport is not None
        transport = self._transport.underlying_transport
        if transport.is_closing():
            # The peer went away (write error or EOF) and picows has not told us yet: writes
            # now would only make the event loop log one warning each.
            return False
        if self._paused and transport.get_write_buffer_size() > self._ctx.max_write_buffer:
            self._ctx.stats.slow_disconnects += 1
            self.abort()
            return False
        return True

    def flush(self) -> None:
        """Write the queued frames with a single write on the TCP transport."""
        out, self._out = self._out, []
        if out and not self.closed and self._writable():
            assert self._transport is not None
            # Server frames are unmasked and framed by ws_text_header, so they can bypass
            # picows' per-frame send and go to the socket as one buffer.
            self._transport.underlying_transport.write(b"".join(out))
            self.last_send = time.monotonic()

    def send_control(self, payload: bytes) -> None:
        """Send a frame that is not market data (greeting, ack, pong, heartbeat, reference
        data): no faults, no stamp."""
        if self._write(payload):
            self._ctx.stats.control_sent += 1

    def deliver(self, frame: DataFrame) -> None:
        """Send a data frame through the fault injector, if the run has one."""
        if self.closed:
            return
        if self._stall_until and time.monotonic() < self._stall_until:
            self._ctx.stats.suppressed += 1
            return
        injector = self._ctx.injector
        if injector is None:
            self.emit(frame)
        else:
            injector.deliver(self, frame)

    def emit(self, frame: DataFrame) -> None:
        """Write a data frame now, then any frame of its stream held back to swap with it."""
        data = self.render(frame)
        if self._ctx.stamp_send_ns:
            data = stamp(data, time.monotonic_ns())
        if self._write(data):
            self._ctx.stats.messages_sent += 1
        if self._held:
            held = self._held.pop((frame.channel, frame.symbol), None)
            if held is not None:
                self.emit(held[0])

    def holding(self, frame: DataFrame) -> bool:
        """Whether a frame of ``frame``'s channel and symbol is being held back."""
        return (frame.channel, frame.symbol) in self._held

    def hold(self, frame: DataFrame) -> None:
        """Hold a frame back until the next frame of its channel and symbol goes out."""
        self._held[(frame.channel, frame.symbol)] = (frame, time.monotonic())

    def forget_held(self, channel: str, symbol: str) -> None:
        """Drop a held frame of a stream the client left (it must not arrive after the ack)."""
        self._held.pop((channel, symbol), None)

    def send_malformed(self) -> None:
        """Send the venue's malformed frame (the ``bad_json`` fault)."""
        self.send_control(self.malformed_frame)

    def stall(self, seconds: float) -> None:
        """Send nothing at all for ``seconds``."""
        self._stall_until = time.monotonic() + seconds

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake.

        Frames queued before the fault still go out first: they were sent, as far as the
        venue is concerned, before it dropped the line.
        """
        if self._transport is not None and not self.closed:
            self.flush()
            self.closed = True
            self._transport.disconnect(graceful=False)

    def close(self, code: WSCloseCode = WSCloseCode.GOING_AWAY) -> None:
        """Close politely (answering the client's close, or at shutdown) after what is queued.

        Nothing may follow the close frame, so the queue is written first and the connection
        counts as closed from here on.
        """
        if self._transport is not None and not self.closed:
            self.flush()
            self.closed = True
            self._transport.send_close(code)
            self._transport.disconnect()

    def housekeep(self, now: float) -> None:
        """Periodic duties: releasing frames held too long, heartbeats when idle."""
        if self._held:
            for key, (frame, since) in list(self._held.items()):
                if now - since >= HOLD_LIMIT:
                    del self._held[key]
                    self.emit(frame)
        if now - self.last_send >= self._ctx.heartbeat_interval:
            beat = self.heartbeat()
            if beat is not None:
                self.send_control(beat)
