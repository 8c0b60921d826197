"""Gateway configuration: YAML files validated by pydantic at the edge.

``load_config(path)`` returns a :class:`GatewayConfig` or raises
:class:`tradegw.errors.ConfigError` naming the file, the field and why.
"""

from tradegw.config.loader import DEFAULT_CONFIG, load_config
from tradegw.config.models import (
    ConsumerConfig,
    DispatcherConfig,
    GatewayConfig,
    KrakenVenueConfig,
    ReconnectPolicy,
    SimulatorsConfig,
    TelemetryConfig,
    VenuesConfig,
)

__all__ = [
    "DEFAULT_CONFIG",
    "ConsumerConfig",
    "DispatcherConfig",
    "GatewayConfig",
    "KrakenVenueConfig",
    "ReconnectPolicy",
    "SimulatorsConfig",
    "TelemetryConfig",
    "VenuesConfig",
    "load_config",
]
