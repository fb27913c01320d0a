"""The error raised by every forbidden session action."""

from __future__ import annotations


class SessionError(Exception):
    """A forbidden transition, a bad score, a wrong token or a write to a closed session."""
