"""Venue adapters: each turns one venue's WebSocket/REST protocol into canonical events.

A provider knows nothing of consumers: it publishes into the dispatcher and answers
snapshot requests for its books.
"""
