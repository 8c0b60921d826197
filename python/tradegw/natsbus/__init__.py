"""NATS as the data bus between machines: the gateway's side.

- :mod:`tradegw.natsbus.wire`: subjects, headers and message ids, shared with the remote
  consumer (:mod:`tradegw.remote`) and ``tradegw ctl --nats``.
- :mod:`tradegw.natsbus.sink`: a dispatcher consumer that publishes market data on core NATS,
  and ExecReports to a JetStream stream from the order ledger's outbox
  (:mod:`tradegw.natsbus.outbox`), so no ExecReport is lost to an outage or a crash.
- :mod:`tradegw.natsbus.services`: the gateway answering ``tradegw.snapshot.<venue>.<symbol>``
  and ``tradegw.control`` requests.
- :mod:`tradegw.natsbus.bridge`: the connection and the lifecycle of all of the above
  (``sinks.nats`` in the config; :attr:`tradegw.gateway.Gateway.nats`).

The subjects and the wire are documented in ``docs/nats.md``.
"""
