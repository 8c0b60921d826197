"""Unit tests of single modules: dispatcher, subscriptions, telemetry, config, CLI, console,
Kraken decoding and the demo consumers."""
