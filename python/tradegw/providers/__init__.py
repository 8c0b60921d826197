"""Venue adapters: each turns one venue's WebSocket/REST protocol into canonical events.

A provider knows nothing of consumers or merges: it publishes into its
:class:`~tradegw.providers.base.sink.EventSink` (the conductor, which forwards to the
dispatcher) and answers snapshot requests for its books.
"""
