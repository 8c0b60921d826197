"""Gateway.merge / Gateway.unmerge and the ``merges:`` of the config: providers publish
through the conductor, merges are checked against the running venues, and a gateway's
merged events reach ``subscribe(venues=["merged"])``."""

from __future__ import annotations

import pytest

from tradegw.config import GatewayConfig
from tradegw.dispatch import BookSource
from tradegw.gateway import Gateway
from tradegw.schema import BookSnapshot, BookUpdate, MergedBookSnapshot, new_trace_id

pytestmark = pytest.mark.timeout(10)


def gateway(**extra: object) -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {"symbols": ["BTC/USD"]},
                "coinbase": {"symbols": ["BTC-USD"]},
            },
            "telemetry": {"dlq_path": None},
            **extra,
        }
    )
    return Gateway(
        config,
        urls={"kraken": "ws://127.0.0.1:1", "coinbase": "ws://127.0.0.1:1"},
        rest_urls={"kraken": "", "coinbase": ""},
    )


def test_providers_publish_through_the_conductor() -> None:
    gw = gateway()
    for provider in gw.providers.values():
        assert provider._sink is gw.conductor


def test_merge_returns_an_id_and_unmerge_stops_it() -> None:
    gw = gateway()
    merge_id = gw.merge("BTC-USD", ["kraken", "coinbase"], window_s=2.0, max_events=10, depth=5)
    assert merge_id.startswith("m-BTC-USD-")
    (spec,) = gw.conductor.merges()
    assert (spec.merge_id, spec.venues, spec.window_s, spec.max_events, spec.depth) == (
        merge_id,
        frozenset({"kraken", "coinbase"}),
        2.0,
        10,
        5,
    )
    assert gw.merge("BTC-USD", {"kraken", "coinbase"}, merge_id="mine") == "mine"
    gw.unmerge(merge_id)
    assert [s.merge_id for s in gw.conductor.merges()] == ["mine"]
    with pytest.raises(KeyError):
        gw.unmerge(merge_id)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("BTC-USD", ["kraken", "binance"]), {}, r"venues \['binance'\] are not running"),
        (("BTC-USD", "kraken"), {}, "venues must be a collection of venue names"),
        (("BTC-USD", ["kraken"]), {}, "venues must name at least 2"),
        (("BTC/USD", ["kraken", "coinbase"]), {}, "^symbol must be a canonical symbol"),
        (("BTC-USD", ["kraken", "coinbase"]), {"window_s": 0}, "^window_s must be > 0"),
        (("BTC-USD", ["kraken", "coinbase"]), {"max_events": 0}, "^max_events must be"),
        (("BTC-USD", ["kraken", "coinbase"]), {"depth": 0}, "^depth must be"),
        (("BTC-USD", ["kraken", "coinbase"]), {"merge_id": ""}, "^merge_id must match"),
    ],
)
def test_a_bad_merge_is_refused_naming_the_field(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    gw = gateway()
    with pytest.raises(ValueError, match=message):
        gw.merge(*args, **kwargs)  # type: ignore[arg-type]
    assert gw.conductor.merges() == []


def test_a_merge_id_in_use_is_refused() -> None:
    gw = gateway()
    gw.merge("BTC-USD", ["kraken", "coinbase"], merge_id="m")
    with pytest.raises(ValueError, match="merge_id 'm' is already in use"):
        gw.merge("ETH-USD", ["kraken", "coinbase"], merge_id="m")


def test_merges_of_the_config_start_with_the_gateway() -> None:
    gw = gateway(
        merges=[
            {"merge_id": "btc", "symbol": "BTC-USD", "venues": ["kraken", "coinbase"]},
            {"symbol": "ETH-USD", "venues": ["coinbase", "kraken"], "max_events": 20},
        ]
    )
    btc, eth = gw.conductor.merges()
    assert (btc.merge_id, btc.window_s, btc.max_events, btc.depth) == ("btc", 10.0, 1000, 10)
    assert eth.merge_id.startswith("m-ETH-USD-")
    assert eth.max_events == 20


def _one_bid_book(price: str, qty: str) -> BookSource:
    """A book source whose every book has one bid."""

    def source(provider: str, symbol: str) -> BookSnapshot:
        return BookSnapshot(
            provider=provider,
            symbol=symbol,
            venue_symbol=symbol,
            seq_provider=None,
            exchange_ts=None,
            ingest_ts=0,
            trace_id=new_trace_id(),
            bids=[(price, qty)],
            asks=[],
            depth=10,
        )

    return source


async def test_a_merged_subscription_receives_what_the_providers_books_make() -> None:
    """Fragments published by the providers themselves (as their frame handlers do) open
    and close a window; the merge reads the venues' book sources at the close."""
    gw = gateway()
    gw.merge("BTC-USD", ["kraken", "coinbase"], max_events=2, merge_id="m")
    sub = gw.subscribe(venues=["merged"])
    books = {"kraken": ("87500.1", "0.25000000"), "coinbase": ("87500.10", "0.5")}
    for venue, (price, qty) in books.items():
        gw.dispatcher.register_book_source(venue, _one_bid_book(price, qty))
        gw.providers[venue].publish(
            BookUpdate(
                provider=venue,
                symbol="BTC-USD",
                venue_symbol="BTC-USD",
                seq_provider=None,
                exchange_ts=None,
                ingest_ts=1,
                trace_id=new_trace_id(),
                bids=[],
                asks=[],
            )
        )
    snap = sub.get_nowait()
    assert isinstance(snap, MergedBookSnapshot)
    assert [(lv.price, lv.qty, lv.venues) for lv in snap.bids] == [
        ("87500.10", "0.75000000", {"coinbase": "0.5", "kraken": "0.25000000"})
    ]
    await gw.stop()
