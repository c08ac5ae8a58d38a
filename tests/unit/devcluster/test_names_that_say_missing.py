"""The one rule for "this name says it does not exist": words, not substrings; commands and image tags differ."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.devcluster.podsim.names import MISSING_WORDS, command_marker, image_marker, words_of


@pytest.mark.parametrize(
    ("executable", "marker"),
    [("/bad-command", "bad"), ("bad", "bad"), ("/usr/local/bin/broken_tool", "broken"),
     ("/nonexistent", "nonexistent"), ("does-not-exist", "does-not-exist"), ("/opt/Does.Not.Exist", "does-not-exist"),
     ("non-existent-tool", "non-existent"), ("no_such_binary", "no-such"), ("/bin/notfound", "notfound"),
     ("/bin/missing", "missing"), ("invalid-command", "invalid")],
)  # fmt: skip
def test_commands_that_cannot_exist(executable: str, marker: str) -> None:
    assert command_marker(executable) == marker


@pytest.mark.parametrize(
    "executable",
    ["/bin/sh", "sleep", "badger", "/usr/bin/abadcommand", "error-reporter", "/srv/errors", "missingno", "existent",
     "not", "/does/exist", "/app/server"],
)  # fmt: skip
def test_ordinary_commands_are_not_missing(executable: str) -> None:
    assert command_marker(executable) is None


@pytest.mark.parametrize(
    ("name", "tag", "marker"),
    [("argoproj/rollouts-demo", "does-not-exist", "does-not-exist"), ("nginx", "bad", "bad"),
     ("nginx", "BROKEN", "broken"), ("nginx", "1.19-alpine-argo-error", "error"), ("nginx", "invalid", "invalid"),
     ("nonexistent-image-that-does-not-exist", "latest", "nonexistent"), ("registry.invalid/app", "1.0", "invalid"),
     ("does.not.exist/app", "", "does-not-exist"), ("team/missing", "1", "missing")],
)  # fmt: skip
def test_images_that_cannot_be_pulled(name: str, tag: str, marker: str) -> None:
    assert image_marker(name, tag) == marker


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("argoproj/rollouts-demo", "bad-red"),  # a real image: it runs and serves errors
        ("demo", "3.0-bad"),  # the demo's bad build: it pulls, its error rate shows in Prometheus
        ("quay.io/kubernetes-ingress-controller/custom-error-pages-amd64", "0.4"),  # "error" in a name is fine
        ("bad/app", "1.0"),  # "bad" marks commands and whole tags, not repositories
        ("nginx", "1.27"),
        ("registry.example:5000/team/demo", "4.1"),
    ],
)
def test_images_that_pull(name: str, tag: str) -> None:
    assert image_marker(name, tag) is None


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./:", max_size=40))
def test_a_marker_is_always_a_whole_word_of_the_text(text: str) -> None:
    marker = command_marker(text)
    if marker is not None:
        assert "-".join(words_of(text)).find(marker) >= 0
        assert set(marker.split("-")) <= set(words_of(text))


@given(st.sampled_from(sorted(MISSING_WORDS)), st.sampled_from(["x", "tool", "2"]), st.booleans())
def test_a_marker_counts_only_as_a_word_of_its_own(word: str, other: str, before: bool) -> None:
    glued = f"{other}{word}" if before else f"{word}{other}"
    separated = f"{other}-{word}" if before else f"{word}_{other}"
    assert command_marker(glued) is None
    assert command_marker(separated) == word
