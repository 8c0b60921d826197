"""Gateway configuration: YAML files validated by pydantic at the edge.

``load_config(path)`` returns a :class:`GatewayConfig` or raises
:class:`tradegw.errors.ConfigError` naming the file, the field and why. Each venue's own
section is its adapter's model (``tradegw.providers.<venue>.config``), found by name in the
venue registry.
"""

from tradegw.config.loader import DEFAULT_CONFIG, load_config
from tradegw.config.models import (
    BudgetConfig,
    ConsumerConfig,
    ControlConfig,
    DispatcherConfig,
    GatewayConfig,
    MergeConfig,
    OpsConfig,
    OrdersConfig,
    SimulatorsConfig,
    SimulatorTable,
    TelemetryConfig,
    VenuesConfig,
    VenueTable,
)
from tradegw.providers.base.config import ReconnectPolicy, RestPolicy, VenueConfig

__all__ = [
    "DEFAULT_CONFIG",
    "BudgetConfig",
    "ConsumerConfig",
    "ControlConfig",
    "DispatcherConfig",
    "GatewayConfig",
    "MergeConfig",
    "OpsConfig",
    "OrdersConfig",
    "ReconnectPolicy",
    "RestPolicy",
    "SimulatorTable",
    "SimulatorsConfig",
    "TelemetryConfig",
    "VenueConfig",
    "VenueTable",
    "VenuesConfig",
    "load_config",
]
