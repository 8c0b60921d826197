"""A gateway's events on another machine, over NATS, with the in-process API.

>>> async with tradegw.remote.connect("nats://10.0.0.5:4222") as gw:
...     async for ev in gw.subscribe(symbols=["BTC-USD"], types=["BookSnapshot", "BookUpdate"]):
...         ...

See :mod:`tradegw.remote.client` (what arrives and how it is checked),
:mod:`tradegw.remote.books` (the rule that proves a remote book) and
:mod:`tradegw.remote.exec` (ExecReports exactly once across crashes); the wire is in
``docs/nats.md``.
"""

from tradegw.remote.client import RemoteGateway, RemoteStats, StreamGap, connect
from tradegw.remote.exec import ExecGap
from tradegw.remote.subscription import RemoteSubscription

__all__ = ["ExecGap", "RemoteGateway", "RemoteStats", "RemoteSubscription", "StreamGap", "connect"]
