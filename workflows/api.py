"""The product's API group and version: one place, at the bottom layer, so every package names it the same way."""

from __future__ import annotations

__all__ = ["API_VERSION", "GROUP", "VERSION"]

GROUP = "rollouts.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
