"""The notification package's errors: every one names the place the user must fix (a ConfigMap key and the field in
it, a subscription annotation), and none carries a secret value (service options are never quoted in messages)."""

from __future__ import annotations

__all__ = ["ConfigError", "NotificationError", "RenderError"]


class NotificationError(Exception):
    """Base of the package's errors: ``where`` is the key path to fix, ``problem`` what is wrong there."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class ConfigError(NotificationError):
    """A trigger, template, service or subscription that cannot be used as written (found when it is read)."""


class RenderError(NotificationError):
    """A template that parsed but failed on this Rollout (a type error, a bad JSON attachment, ...)."""
