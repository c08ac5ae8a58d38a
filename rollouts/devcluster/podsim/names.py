"""The one rule for "this name says the thing does not exist", shared by images and commands.

Test manifests (Argo Rollouts' e2e suite among them) spell a pod that cannot work with a name: ``/bad-command``,
``argoproj/rollouts-demo:does-not-exist``, ``nonexistent-image-that-does-not-exist:latest``,
``nginx:1.19-alpine-argo-error``. A real kubelet finds out by trying; the simulated one reads the name. The rule works
on *words*: the text is lowercased and split at every character that is not a letter or a digit, and it matches when
one word is a marker or consecutive words spell a marker phrase. So ``bad-command`` and ``rollouts-demo:bad`` match,
``badger`` and ``errorpages`` do not. Pure: no I/O.
"""

from __future__ import annotations

import re

__all__ = ["MISSING_PHRASES", "MISSING_WORDS", "missing_marker"]

#: Words that, on their own, say a name is not real.
MISSING_WORDS = frozenset(
    {"bad", "broken", "error", "invalid", "missing", "nonexistent", "nonexisting", "notexist", "notfound", "noexist"}
)
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
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def missing_marker(text: str) -> str | None:
    """The marker (a word, or a phrase joined with ``-``) that makes ``text`` name something missing, or None."""
    words = [word for word in _WORD_SPLIT.split(text.lower()) if word]
    for word in words:
        if word in MISSING_WORDS:
            return word
    for phrase in MISSING_PHRASES:
        size = len(phrase)
        for start in range(len(words) - size + 1):
            if tuple(words[start : start + size]) == phrase:
                return "-".join(phrase)
    return None
