"""FNV-1a (32 bit), the one hash behind stable names: Argo's workflow node ids and the Rollouts' pod-template hashes.

Both must be the same in every process and Python version (they name objects a restarted controller finds again), so
they use this explicit fold and never Python's salted ``hash()``.
"""

from __future__ import annotations

__all__ = ["FNV_OFFSET", "fnv32a"]

FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(data: bytes | str, value: int = FNV_OFFSET) -> int:
    """FNV-1a over ``data`` (text as UTF-8); ``value`` continues from a prefix's hash (FNV is a left fold).

    ``fnv32a(b"") == 0x811c9dc5``, ``fnv32a(b"a") == 0xe40c292c``.
    """
    for byte in data.encode() if isinstance(data, str) else data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF  # _FNV_PRIME as a literal: no global lookup per byte
    return value
