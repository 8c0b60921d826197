"""tradegw — a crypto trading gateway with verified order books.

The hot primitives live in the native extension :mod:`tradegw._core`; everything venue-facing
(providers, dispatcher, consumers, simulators) is Python on uvloop.
"""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Looked up on first use: importlib.metadata costs tens of milliseconds, paid by every
    # ``tradegw`` start before main() can install its signal handlers.
    if name != "__version__":
        raise AttributeError(f"module 'tradegw' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("tradegw")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
