# ruff: noqa: E501 -- case tables: one case per line reads better than wrapped strings
"""Go-template bodies render as Go's engine renders them (the forms Argo users write), and what is not supported is
refused with the ConfigMap key and line, never rendered approximately."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.notifications import ConfigError, RenderError, compile_template
from rollouts.notifications.catalog import BUILT_IN
from rollouts.notifications.config import parse_config
from rollouts.notifications.templates import go_text

ROLLOUT: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "b", "app": "a"}, "generation": 3},
    "spec": {
        "replicas": 4,
        "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
        "template": {"spec": {"containers": [{"name": "app", "image": "shop:2"}, {"name": "proxy", "image": "envoy"}]}},
    },
    "status": {"phase": "Paused", "currentStepIndex": 1, "weight": 0.5, "abort": False, "note": None},
}
VARIABLES = {"rollout": ROLLOUT, "recipient": "ops", "serviceType": "slack", "time": {"now": "2024-05-01T10:00:00Z"}}


def render(source: str) -> str:
    return compile_template(source, where="template.t: message").render(VARIABLES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Rollout {{.rollout.metadata.name}} is {{ .rollout.status.phase }}.", "Rollout web is Paused."),
        (
            "{{ .rollout.status.missing }}|{{ .rollout.status.missing.deeper }}|{{ .rollout.status.note }}",
            "<no value>|<no value>|<no value>",
        ),
        (
            "{{ .rollout.spec.replicas }} {{ .rollout.status.weight }} {{ .rollout.status.abort }} {{ 1000000 }} {{ 0.00001 }}",
            "4 0.5 false 1e+06 1e-05",
        ),
        (
            "{{ .rollout.metadata.labels }} {{ .rollout.spec.strategy.canary.steps }}",
            "map[app:a team:b] [map[setWeight:20] map[pause:map[]]]",
        ),
        (
            "{{if .rollout.spec.strategy.blueGreen}}BlueGreen{{end}}{{if .rollout.spec.strategy.canary}}Canary{{end}}",
            "Canary",
        ),
        (
            '{{ if eq .rollout.status.phase "Healthy" }}ok{{ else if eq .rollout.status.phase "Paused" }}paused{{ else }}?{{ end }}',
            "paused",
        ),
        # Argo's catalog: a comma before every container but the first.
        (
            "{{range $index, $c := .rollout.spec.template.spec.containers}}{{if not $index}}[{{end}}{{if $index}},{{end}}{{$c.name}}={{$c.image}}{{end}}]",
            "[app=shop:2,proxy=envoy]",
        ),
        ("{{ range .rollout.metadata.labels }}<{{ . }}>{{ end }}", "<a><b>"),  # maps in key order
        ("{{ range $k, $v := .rollout.metadata.labels }}{{ $k }}={{ $v }};{{ end }}", "app=a;team=b;"),
        ("{{ range .rollout.status.missing }}x{{ else }}empty{{ end }}", "empty"),
        (
            "{{ range $i := 5 }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $i }}{{ end }}",
            "02",
        ),
        ("{{ with .rollout.spec.strategy.canary }}{{ len .steps }} steps{{ else }}none{{ end }}", "2 steps"),
        ("{{ with .rollout.spec.strategy.blueGreen }}bg{{ else }}{{ .rollout.metadata.name }}{{ end }}", "web"),
        ("a  \n {{- /* a comment */ -}} \n  b{{- 1 -}}  c", "ab1c"),
        ('{{ $x := "outer" }}{{ if true }}{{ $x := "inner" }}{{ $x }}{{ end }} {{ $x }}', "inner outer"),
        (
            '{{ printf "%s has %d pods (%.1f%%) %v %q" .rollout.metadata.name .rollout.spec.replicas 12.345 true "x" }}',
            'web has 4 pods (12.3%) true "x"',
        ),
        (
            '{{ .recipient | upper }} {{ .rollout.metadata.name | printf "<%s>" }} {{ "a-b" | replace "-" "_" }}',
            "OPS <web> a_b",
        ),
        (
            '{{ index .rollout.spec.template.spec.containers 1 "image" }} {{ index .rollout.metadata.labels "team" }}',
            "envoy b",
        ),
        (
            '{{ toJson .rollout.metadata.labels }} {{ default "none" .rollout.status.missing }} {{ .time.now }}',
            '{"app":"a","team":"b"} none 2024-05-01T10:00:00Z',
        ),
        (
            '{{ and .rollout.status.phase .recipient }} {{ or .rollout.status.missing "fallback" }} {{ not .rollout.status.abort }}',
            "ops fallback true",
        ),
        (
            '{{ len .rollout.metadata.name }} {{ lt 1 2 }} {{ ge .rollout.spec.replicas 5 }} {{ ne "a" "b" }}',
            "3 true false true",
        ),
        (
            "{{ (index .rollout.spec.template.spec.containers 0).image }} {{ $.rollout.metadata.namespace }}",
            "shop:2 shop",
        ),
        ('{{ print 1 2 "x" 3 }} {{ `raw \\n` }} {{ "tab\\tnew" }}', "1 2x3 raw \\n tab\tnew"),
        ('{{ "{{ not an action }}" }}', "{{ not an action }}"),
        ("{{ .rollout.__class__ }} {{ .rollout.metadata.__dict__ }}", "<no value> <no value>"),  # keys, not attributes
    ],
)
def test_go_template_forms_render_as_go_renders_them(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('{{ date "2006" .x }}', "line 1: function 'date' is not supported"),
        ("ok\n{{ if .rollout }}", "line 2: unexpected end of template: {{if}} has no {{end}}"),
        ("{{ $x := 1 }}{{ $x = 2 }}", "assigning to a declared variable ($x = ...) is not supported"),
        ('{{ define "a" }}{{ end }}', "named templates (define) are not supported"),
        ('{{ template "a" . }}', "named templates (template) are not supported"),
        ("{{ $y }}", "undefined variable: $y"),
        ("{{ end }}", "unexpected {{end}}"),
        ('{{ slackUserByEmail "a@b" }}', "Slack mentions by lookup are not supported"),
        ("{{ 'x' }}", "character constants"),
        ("{{ .a", "unclosed action"),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ("{{ .rollout.metadata.name 1 }}", "can't give argument to non-function"),
        ("{{ with .x }}{{ else with .y }}{{ end }}", "else with"),
    ],
)
def test_unsupported_or_malformed_templates_are_refused_with_key_and_line(source: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_template(source, where="template.rollout-aborted: slack.attachments")
    assert str(caught.value).startswith("template.rollout-aborted: slack.attachments: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ .rollout.metadata.name.first }}", "can't evaluate field first in type string"),
        ("{{ index .rollout.spec.template.spec.containers 7 }}", "index out of range: 7"),
        ('{{ eq .rollout.spec.replicas "4" }}', "incompatible types for comparison"),
        ('{{ printf "%s %s" .recipient }}', "needs more than 1 argument"),
        ("{{ range .rollout.metadata.name }}{{ end }}", "range can't iterate over web"),
    ],
)
def test_runtime_errors_name_the_key(source: str, problem: str) -> None:
    template = compile_template(source, where="template.t: message")
    with pytest.raises(RenderError) as caught:
        template.render(VARIABLES)
    assert str(caught.value).startswith("template.t: message: ")
    assert problem in str(caught.value)


@given(st.text().filter(lambda text: "{{" not in text))
def test_text_without_actions_is_kept_byte_for_byte(text: str) -> None:
    assert render(text) == text


@given(st.text(), st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_strings_reach_the_output_as_data_never_as_template_code(value: str, recipient: str) -> None:
    """Whatever a Rollout's fields hold (Jinja or Go syntax included) is printed, not interpreted."""
    variables = {"rollout": {"metadata": {"name": value}}, "recipient": recipient}
    template = compile_template("{{ .rollout.metadata.name }}|{{ .recipient }}", where="template.t: message")
    assert template.render(variables) == f"{value}|{recipient}"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_print_as_go_prints_float64(value: float) -> None:
    text = go_text(value)
    assert float(text) == value  # shortest round-trip digits
    exponent = "e" in text
    magnitude = abs(value)
    assert exponent == (magnitude != 0 and (magnitude < 1e-4 or magnitude >= 1e6))  # strconv's shortest %g


def test_the_built_in_catalog_renders_valid_slack_attachments_for_every_trigger() -> None:
    config = parse_config({}, {})
    assert not config.issues
    assert {f"template.{name}" for name in config.templates} <= set(BUILT_IN)
    for template in config.templates.values():
        attachments = json.loads(template.slack["attachments"].render(VARIABLES))
        assert attachments[0]["title"] == "web"
        assert [field["title"] for field in attachments[0]["fields"]] == ["Strategy", "app", "proxy"]
        assert template.message is not None
        assert "web" in template.message.render(VARIABLES)
