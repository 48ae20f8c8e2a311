"""The small exception hierarchy every Ringwatch command reports through.

Each message says what was wrong and what would have been valid, so the CLI can print it
as-is and exit non-zero without a traceback.
"""

from __future__ import annotations


class RingwatchError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code: int = 1


class ConfigError(RingwatchError):
    """A setting or argument is invalid."""

    exit_code = 2


class InputError(RingwatchError):
    """Input data is missing, empty, or malformed beyond what quarantine tolerates."""


class BadRowsError(InputError):
    """Too many event rows failed validation.

    Args:
        fraction: Share of rows that failed.
        limit: The configured maximum share.
        reasons: Count of quarantined rows per reason.
    """

    def __init__(self, fraction: float, limit: float, reasons: dict[str, int]) -> None:
        self.fraction = fraction
        self.limit = limit
        self.reasons = reasons
        detail = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items()))
        super().__init__(
            f"{fraction:.2%} of event rows are bad, above the limit of {limit:.2%} "
            f"(--max-bad-fraction); quarantined rows by reason: {detail}"
        )


class NotFoundError(RingwatchError):
    """A requested version, account or artefact does not exist."""


class IntegrityError(RingwatchError):
    """A stored artefact fails its checksum or manifest check."""


class ServiceError(RingwatchError):
    """A background service (gRPC server, Neo4j) could not be started, reached or stopped."""
