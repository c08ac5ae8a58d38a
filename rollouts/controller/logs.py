"""The controller's log lines: plain text (the default) or one JSON object per line (``--log-format json``).

A JSON line carries ``time`` (RFC 3339, UTC, milliseconds), ``level`` (``debug``, ``info``, ``warning``, ``error``,
``critical``), ``logger``, ``message`` and, when the line is about an object, fields naming it:

- a Rollout: ``namespace``, ``rollout`` and ``step`` (``status.currentStepIndex`` when the reconcile started; absent
  for a Rollout without steps), set for everything a reconcile logs by :func:`rollout_context` (a context variable,
  :mod:`workflows.logfields`: a reconcile runs on one worker thread from start to end) or passed with ``extra=`` by
  code that logs about a Rollout outside a reconcile (:func:`rollout_fields`);
- an AnalysisRun: ``namespace`` and ``analysisrun`` (set by its controller for the run's task, its steps and its
  status writes);
- kopf's own lines about an object (its per-object loggers put a ``k8s_ref`` on the record): ``namespace``, the
  object's kind in lower case as the key (``analysisrun``, ``workflow``) and its name.

A failure's traceback is one ``exception`` string field, so a line stays one line. Only these fields are written:
``extra`` values other than the ones named here are not, so nothing a caller attaches by accident (a request, a
Secret's data) reaches the log. Messages themselves follow the house rule: secrets are redacted before they are
formatted (``analysis.args``), never here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from workflows import logfields

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "LogFormat",
    "configure_logging",
    "rollout_context",
    "rollout_fields",
    "set_step",
]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The object fields a record may carry (``extra=``): written by the JSON formatter, nothing else is.
_OBJECT_FIELDS = ("namespace", "rollout", "step", "analysisrun", "workflow")


def rollout_fields(namespace: str, rollout: str, step: int | None = None) -> dict[str, object]:
    """The fields of a line about a Rollout, for ``logger.info(..., extra=rollout_fields(ns, name))``."""
    fields: dict[str, object] = {"namespace": namespace, "rollout": rollout}
    if step is not None:
        fields["step"] = step
    return fields


@contextlib.contextmanager
def rollout_context(namespace: str, rollout: str) -> Iterator[None]:
    """Every line logged inside (on this thread or task) is about Rollout ``namespace/rollout``."""
    with logfields.about(**rollout_fields(namespace, rollout)):
        yield


def set_step(step: int | None) -> None:
    """The current Rollout's step, once the reconcile has read it (inside :func:`rollout_context`)."""
    if step is not None:
        logfields.also(step=step)


def _kopf_fields(record: logging.LogRecord) -> dict[str, object]:
    """kopf's per-object loggers attach ``k8s_ref`` (apiVersion, kind, namespace, name, uid) to their records."""
    ref = getattr(record, "k8s_ref", None)
    if not isinstance(ref, Mapping) or not ref.get("name"):
        return {}
    fields: dict[str, object] = {}
    if ref.get("namespace"):
        fields["namespace"] = str(ref["namespace"])
    kind = str(ref.get("kind") or "object").lower()
    fields[kind if kind in _OBJECT_FIELDS else "object"] = str(ref["name"])
    if kind not in _OBJECT_FIELDS:
        fields["kind"] = str(ref.get("kind") or "")
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module's docstring for the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_kopf_fields(record))
        line.update(logfields.current())
        for field in _OBJECT_FIELDS:  # extra= wins: the caller knows which object it is talking about
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(*, log_format: LogFormat = "text", verbose: bool = False) -> None:
    """The process' logging: one handler on the root logger (kopf's loggers included) writing ``log_format`` to
    stderr; replaces handlers set before (a second call reconfigures, it does not add a second handler)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
