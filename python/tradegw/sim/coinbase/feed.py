"""Coinbase rendering of market steps and snapshots: level2, market_trades, ticker,
ticker_batch, candles and status.

Subscriptions are made under product ids and kept in the common index under the market's
pair names. Each step's frames are built once per channel and product and shared by every
subscriber; each connection numbers its copy (:class:`tradegw.sim.coinbase.wire.Sequenced`).
Snapshots are built per request, one frame for all the products of a subscribe.

Choices where the venue's documentation is silent, kept simple and stated here:

* a ``level2`` update frame carries one product's changes of one market step (the venue
  batches; a client must route by each event's ``product_id`` either way);
* ``market_trades`` updates carry the trades of one step, newest first; the snapshot holds
  up to the last 50 trades of each product, newest first; ``side`` is the maker's side;
* ``ticker`` and ``candles`` update once per step that traded; ``ticker_batch`` is sent by
  each connection on its own timer (:mod:`tradegw.sim.coinbase.ws`);
* the run's statistics stand in for both the 24-hour and the 52-week windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tradegw.sim.coinbase.products import ProductInfo
from tradegw.sim.coinbase.wire import (
    SNAPSHOT_EVENT_TIME,
    Envelope,
    envelope,
    level2_event,
    percent_change,
    plain,
    rfc3339_nano,
    typed_event,
)
from tradegw.sim.feed import MarketFeed
from tradegw.sim.market import NS_PER_MINUTE, Market, StepResult, Trade
from tradegw.sim.stats import SimStats
from tradegw.sim.subscriptions import Subscriber, fan_out

CANDLE_MINUTES = 5
"""Advanced Trade candles are five-minute buckets."""

FEED_CHANNELS = ("level2", "market_trades", "ticker", "ticker_batch", "candles")
"""Channels whose subscriptions are per product and move the market."""

_MAKER_SIDE = {"buy": "SELL", "sell": "BUY"}
"""The market's trades name the taker's side; Coinbase names the maker's."""


class CoinbaseFeed(MarketFeed):
    """Coinbase's subscriptions and frames over the common market."""

    def __init__(self, market: Market, stats: SimStats, products: Sequence[ProductInfo]) -> None:
        super().__init__(market, stats)
        self.products = {p.product_id: p for p in products}
        self._by_name = {p.name: p for p in products}

    def has(self, product_id: str) -> bool:
        """Whether ``product_id`` is a product of this venue."""
        return product_id in self.products

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, sub: Subscriber, channel: str, product_id: str) -> None:
        """Add ``sub`` to a channel of ``product_id`` (no snapshot: see :meth:`snapshot`)."""
        name = self.products[product_id].name
        if channel == "candles":
            self.market.track_interval(CANDLE_MINUTES)
        self.subscriptions.add(sub, channel, name, None)

    def unsubscribe(self, sub: Subscriber, channel: str, product_id: str) -> None:
        """Remove ``sub`` from a channel of ``product_id`` (no-op when not subscribed)."""
        self.subscriptions.remove(sub, channel, self.products[product_id].name, None)

    # ------------------------------------------------------------------ stepping

    def step(self, name: str, now_ns: int) -> int:
        """One market step; a pair watched only through ``ticker_batch`` builds no frame now
        but still counts as one toward the rate, so the driver paces it like the others."""
        built = super().step(name, now_ns)
        if not built and ("ticker_batch", name) in self.subscriptions.table:
            return 1
        return built

    def publish(self, name: str, result: StepResult, now_ns: int) -> int:
        """The step's ``level2`` update, then (if it traded) its trades, ticker and candle."""
        table = self.subscriptions.table
        product = self._by_name[name]
        built = 0
        books = table.get(("level2", name))
        if books and result.book_changed:
            at = rfc3339_nano(now_ns)
            event = level2_event(
                "update",
                product.product_id,
                result.bids,
                result.asks,
                product.price_precision,
                product.size_precision,
                at,
            )
            frame = envelope(
                "l2_data", at, (event,), symbol=product.product_id, loss_detectable=True
            )
            built += fan_out(books[None], frame)
        if not result.trades:
            return built
        at = rfc3339_nano(now_ns)
        trades = table.get(("market_trades", name))
        if trades:
            items = [self._trade(product, t) for t in reversed(result.trades)]
            event = typed_event("update", "trades", items)
            built += fan_out(trades[None], self._frame("market_trades", product, at, event))
        tickers = table.get(("ticker", name))
        if tickers:
            event = typed_event("update", "tickers", (self._ticker(product, "ticker"),))
            built += fan_out(tickers[None], self._frame("ticker", product, at, event))
        candles = table.get(("candles", name))
        if candles:
            event = typed_event("update", "candles", (self._candle(product, now_ns),))
            built += fan_out(candles[None], self._frame("candles", product, at, event))
        return built

    @staticmethod
    def _frame(channel: str, product: ProductInfo, at: str, event: str) -> Envelope:
        return envelope(channel, at, (event,), symbol=product.product_id)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self, channel: str, product_ids: Sequence[str], now_ns: int) -> Envelope:
        """The snapshot frame of ``channel`` for the products of one subscribe request.

        ``level2`` carries one event per product with its whole book; the other channels
        one event listing every product's entries.
        """
        products = [self.products[p] for p in product_ids]
        at = rfc3339_nano(now_ns)
        symbol = product_ids[0] if len(product_ids) == 1 else ""
        if channel == "level2":
            events = [self._book_event(p) for p in products]
            return envelope("l2_data", at, events, symbol=symbol)
        if channel == "market_trades":
            items = [
                self._trade(p, t)
                for p in products
                for t in reversed(self.market.state(p.name).trades)
            ]
            event = typed_event("snapshot", "trades", items)
        elif channel == "ticker":
            event = typed_event(
                "snapshot", "tickers", [self._ticker(p, "ticker") for p in products]
            )
        elif channel == "ticker_batch":
            return self.ticker_batch(product_ids, "snapshot", now_ns)
        elif channel == "candles":
            event = typed_event("snapshot", "candles", [self._candle(p, now_ns) for p in products])
        else:
            raise ValueError(f"no snapshot for channel {channel!r}")
        return envelope(channel, at, (event,), symbol=symbol)

    def ticker_batch(self, product_ids: Iterable[str], kind: str, now_ns: int) -> Envelope:
        """A ``ticker_batch`` frame: the ticker of each product, without best bid and ask."""
        items = [self._ticker(self.products[p], "ticker_batch") for p in product_ids]
        event = typed_event(kind, "tickers", items)
        return envelope("ticker_batch", rfc3339_nano(now_ns), (event,))

    def status(self, product_ids: Iterable[str], now_ns: int) -> Envelope:
        """The ``status`` snapshot of the given products."""
        items = [self._status(self.products[p]) for p in product_ids]
        event = typed_event("snapshot", "products", items)
        return envelope("status", rfc3339_nano(now_ns), (event,))

    def _book_event(self, product: ProductInfo) -> str:
        bids, asks = self.market.top(product.name)
        return level2_event(
            "snapshot",
            product.product_id,
            bids,
            asks,
            product.price_precision,
            product.size_precision,
            SNAPSHOT_EVENT_TIME,
        )

    # ------------------------------------------------------------------ entries

    @staticmethod
    def _trade(product: ProductInfo, trade: Trade) -> str:
        return (
            f'{{"trade_id":"{trade.trade_id}","product_id":"{product.product_id}",'
            f'"price":"{plain(trade.price, product.price_precision)}",'
            f'"size":"{plain(trade.qty, product.size_precision)}",'
            f'"side":"{_MAKER_SIDE[trade.side]}","time":"{rfc3339_nano(trade.ts_ns)}"}}'
        )

    def _ticker(self, product: ProductInfo, kind: str) -> str:
        st = self.market.state(product.name)
        session = st.session
        pp, sp = product.price_precision, product.size_precision
        low, high = plain(session.low, pp), plain(session.high, pp)
        text = (
            f'{{"type":"{kind}","product_id":"{product.product_id}",'
            f'"price":"{plain(st.last_price, pp)}","volume_24_h":"{plain(session.volume, sp)}",'
            f'"low_24_h":"{low}","high_24_h":"{high}","low_52_w":"{low}","high_52_w":"{high}",'
            f'"price_percent_chg_24_h":"{percent_change(st.last_price, session.open)}"'
        )
        if kind == "ticker_batch":
            return text + "}"
        (bid, bid_qty), (ask, ask_qty) = self.market.best(product.name)
        return (
            f'{text},"best_bid":"{plain(bid, pp)}","best_bid_quantity":"{plain(bid_qty, sp)}",'
            f'"best_ask":"{plain(ask, pp)}","best_ask_quantity":"{plain(ask_qty, sp)}"}}'
        )

    def _candle(self, product: ProductInfo, now_ns: int) -> str:
        candle = self.market.candle(product.name, CANDLE_MINUTES, now_ns)
        pp = product.price_precision
        start = candle.begin_ns // (NS_PER_MINUTE // 60)
        return (
            f'{{"start":"{start}","high":"{plain(candle.high, pp)}",'
            f'"low":"{plain(candle.low, pp)}","open":"{plain(candle.open, pp)}",'
            f'"close":"{plain(candle.close, pp)}",'
            f'"volume":"{plain(candle.volume, product.size_precision)}",'
            f'"product_id":"{product.product_id}"}}'
        )

    @staticmethod
    def _status(product: ProductInfo) -> str:
        return (
            f'{{"product_type":"SPOT","id":"{product.product_id}",'
            f'"base_currency":"{product.base}","quote_currency":"{product.quote}",'
            f'"base_increment":"{product.base_increment}",'
            f'"quote_increment":"{product.quote_increment}",'
            f'"display_name":"{product.base}/{product.quote}","status":"online",'
            f'"status_message":"","min_market_funds":"{product.quote_min_size}"}}'
        )
