"""Recorded traffic: captures people send in (HAR files), read as plain exchanges.

The reader only reads: judging the exchanges is the rules' job (`sage200_doctor.rules`), and
`classify_host` only says which exchanges are Sage traffic. Nothing here sends a request.
"""

from .har import (
    BACKEND,
    DEFAULT_MAX_BODY_CHARS,
    SUPPORTED_VERSIONS,
    HarCapture,
    HarError,
    HarErrorKind,
    ProgressCallback,
    open_har,
)
from .hosts import DEFAULT_HOSTS, Face, HostRule, SageHosts, classify_host
from .model import (
    Creator,
    Header,
    Pair,
    RecordedExchange,
    RecordedRequest,
    RecordedResponse,
    Skipped,
)

__all__ = [
    "BACKEND",
    "DEFAULT_HOSTS",
    "DEFAULT_MAX_BODY_CHARS",
    "SUPPORTED_VERSIONS",
    "Creator",
    "Face",
    "HarCapture",
    "HarError",
    "HarErrorKind",
    "Header",
    "HostRule",
    "Pair",
    "ProgressCallback",
    "RecordedExchange",
    "RecordedRequest",
    "RecordedResponse",
    "SageHosts",
    "Skipped",
    "classify_host",
    "open_har",
]
