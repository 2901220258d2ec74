"""The security layer's errors: one family under :class:`PanoramaError`."""

from __future__ import annotations

from panorama.errors import PanoramaError


class SecurityError(PanoramaError):
    """Keys, roles or the audit log refused an operation or could not do it."""


class AuditError(SecurityError):
    """An audit record could not be written durably, or would have held personal data.

    Callers that audit an action should not go on with it when this is raised: an
    unaudited read of personal data is exactly what the audit log exists to prevent.
    """


class KeyStoreError(SecurityError):
    """A key could not be created, found, rotated or revoked; the message says which and why."""
