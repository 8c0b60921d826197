"""tradegw — a crypto trading gateway with verified order books.

The hot primitives live in the native extension :mod:`tradegw._core`; everything venue-facing
(providers, dispatcher, consumers, simulators) is Python on uvloop.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tradegw")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
