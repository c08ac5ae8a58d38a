"""Operator commands: thin patchers of spec/status fields that the controllers act upon (so RBAC governs them)."""

from __future__ import annotations

__all__ = ["CommandError"]


class CommandError(Exception):
    """The API refused a command; the message names the object and the reason (for the terminal)."""
