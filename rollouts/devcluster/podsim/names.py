"""The one rule for "this name says the thing does not exist", for commands and for images.

Test manifests (Argo Rollouts' e2e suite among them) spell a pod that cannot work with a name: ``/bad-command``,
``argoproj/rollouts-demo:does-not-exist``, ``nonexistent-image-that-does-not-exist:latest``,
``nginx:1.19-alpine-argo-error``. A real kubelet finds out by trying; the simulated one reads the name.

The rule works on *words*: the text is lowercased and split at every character that is not a letter or a digit, and
it matches when one word is a marker or consecutive words spell a marker phrase. So ``does-not-exist``,
``does_not.exist`` and ``/usr/bin/nonexistent`` match, ``badger``, ``missingno`` and ``errorpages`` do not.

- Everywhere: the words ``invalid``, ``missing``, ``nonexistent``, ``nonexisting``, ``notexist``, ``noexist``,
  ``notfound`` and the phrases ``does not exist``, ``doesnt exist``, ``non existent``, ``non existing``, ``not
  exist``, ``not found``, ``no such``.
- Commands also: ``bad`` and ``broken`` (``/bad-command``, ``broken-tool``).
- Image tags also: the word ``error`` (``nginx:1.19-alpine-argo-error``), and a tag that is exactly ``bad`` or
  ``broken`` (``nginx:bad``). Not the word ``bad`` in a longer tag: ``argoproj/rollouts-demo:bad-red`` is a real
  image that runs and serves errors, and so is the demo's ``demo:3.0-bad``; a bad *build* pulls fine.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "COMMAND_WORDS",
    "MISSING_PHRASES",
    "MISSING_WORDS",
    "TAG_WORDS",
    "WHOLE_TAGS",
    "command_marker",
    "image_marker",
    "words_of",
]

#: Words that, on their own, say a name is not real.
MISSING_WORDS = frozenset({"invalid", "missing", "nonexistent", "nonexisting", "notexist", "noexist", "notfound"})
#: Consecutive words that say the same (``does-not-exist``, ``non_existent``, ``not.found``, ``no-such``).
MISSING_PHRASES = (
    ("does", "not", "exist"),
    ("doesnt", "exist"),
    ("non", "existent"),
    ("non", "existing"),
    ("not", "exist"),
    ("not", "found"),
    ("no", "such"),
)
#: More words that mark a command that cannot exist (``/bad-command``).
COMMAND_WORDS = frozenset({"bad", "broken"})
#: More words that mark an image tag that cannot be pulled (``nginx:1.19-alpine-argo-error``).
TAG_WORDS = frozenset({"error"})
#: Whole tags that mark an image that cannot be pulled (``nginx:bad``; ``demo:3.0-bad`` is a real, bad build).
WHOLE_TAGS = frozenset({"bad", "broken"})
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def words_of(text: str) -> list[str]:
    """``text`` lowercased and split at every character that is not a letter or a digit."""
    return [word for word in _WORD_SPLIT.split(text.lower()) if word]


def command_marker(executable: str) -> str | None:
    """The marker that says ``executable`` (a command name or path) cannot exist, or None."""
    return _marker(words_of(executable), MISSING_WORDS | COMMAND_WORDS)


def image_marker(name: str, tag: str) -> str | None:
    """The marker that says the image ``name:tag`` cannot be pulled (``name`` with its registry host), or None."""
    if tag.lower() in WHOLE_TAGS:
        return tag.lower()
    return _marker(words_of(name), MISSING_WORDS) or _marker(words_of(tag), MISSING_WORDS | TAG_WORDS)


def _marker(words: list[str], markers: Iterable[str]) -> str | None:
    """The first marker word, or marker phrase joined with ``-``, among ``words``."""
    marker_words = frozenset(markers)
    for word in words:
        if word in marker_words:
            return word
    for phrase in MISSING_PHRASES:
        size = len(phrase)
        for start in range(len(words) - size + 1):
            if tuple(words[start : start + size]) == phrase:
                return "-".join(phrase)
    return None
