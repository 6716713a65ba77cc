"""Recorded traffic: captures people send in (HAR files), read as plain exchanges and judged.

The reader (`har.py`, `entries.py`) only reads; `classify_host` says which exchanges are Sage
traffic; `triage.triage(path)` judges them with the rules the live checks use
(`sage200_doctor.rules`) into a `RunResult`, masking every secret the capture holds. Nothing
here sends a request.
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
