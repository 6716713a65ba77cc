"""The diagnostics, one module per area, imported in run order so that they declare themselves."""

from . import (  # noqa: F401 - importing a module declares its checks
    config,
    conformance,
    customers,
    expiry,
    gateway,
    header,
    network,
    resources,
    schema,
    sites,
    token,
)
