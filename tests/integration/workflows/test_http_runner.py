"""The http runner and ``rollouts workflow run`` against real HTTP servers bound to 127.0.0.1."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from workflows import DagBuilder, Executor, ExecutorConfig, WorkflowPhase, default_registry
from workflows.runtime.local import run_workflow_file


class _Handler(BaseHTTPRequestHandler):
    calls: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        self.calls[self.path] = self.calls.get(self.path, 0) + 1
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            self._reply(code, f"status {code}")
        elif self.path == "/flaky" and self.calls[self.path] < 3:
            self._reply(503, "try again")
        elif self.path == "/items":
            self._reply(200, '["a", "b", "c"]')
        else:
            self._reply(200, "hello google")

    def _reply(self, code: int, body: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("X-Team", "test-server")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.calls = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def _run_http(payload: dict[str, object]) -> tuple[WorkflowPhase, str]:
    executor = Executor(registry=default_registry(), config=ExecutorConfig(status_interval=0))
    builder = DagBuilder("http")
    builder.add("call", kind="http", payload=payload)
    run = executor.submit(builder.build())
    result = await run.wait()
    record = run.node_table().records()[1]
    await executor.close()
    return result.phase, record.message


@pytest.mark.parametrize(
    ("path", "condition", "phase"),
    [
        ("/status/201", "response.statusCode == 201", WorkflowPhase.SUCCEEDED),
        ("/status/200", "response.statusCode == 201", WorkflowPhase.FAILED),
        ("/", 'response.body contains "google"', WorkflowPhase.SUCCEEDED),
        ("/", 'response.headers["x-team"][0] == "test-server"', WorkflowPhase.SUCCEEDED),
        ("/status/404", None, WorkflowPhase.FAILED),
        ("/status/204", None, WorkflowPhase.SUCCEEDED),
        # expr-lang, as Argo's agent evaluates it: ranges, RE2 `matches`, the request, types that never mix
        ("/status/204", "response.statusCode in 200..299", WorkflowPhase.SUCCEEDED),
        ("/", "response.body matches '^hello\\\\s+goo+gle$'", WorkflowPhase.SUCCEEDED),
        ("/", "request.method == 'GET' && request.url endsWith '/'", WorkflowPhase.SUCCEEDED),
        ("/status/201", 'response.statusCode == "201"', WorkflowPhase.FAILED),
        ("/", "response.body > 1", WorkflowPhase.ERROR),  # a type error is the step's Error, with the column
        ("/", "response.body matches '('", WorkflowPhase.ERROR),  # a bad pattern is refused before the request
    ],
)
async def test_success_condition_against_a_real_server(
    server: str, path: str, condition: str | None, phase: WorkflowPhase
) -> None:
    payload: dict[str, object] = {"url": server + path}
    if condition:
        payload["successCondition"] = condition
    got, message = await _run_http(payload)
    assert got is phase, message


async def test_connection_refused_is_a_transient_error() -> None:
    got, message = await _run_http({"url": "http://127.0.0.1:9/", "timeoutSeconds": 2})
    assert got is WorkflowPhase.ERROR
    assert "request failed: Connection refused" in message


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    return path


WORKFLOW = """
apiVersion: rollouts.dev/v1alpha1
kind: Workflow
metadata: {{name: local-http}}
spec:
  entrypoint: main
  arguments:
    parameters: [{{name: base, value: "{base}"}}]
  templates:
  - name: main
    dag:
      tasks:
      - name: list
        template: get
        arguments: {{parameters: [{{name: path, value: /items}}]}}
      - name: each
        depends: list
        template: get
        withParam: "{{{{tasks.list.outputs.result}}}}"
        arguments: {{parameters: [{{name: path, value: "/item/{{{{item}}}}"}}]}}
      - name: flaky
        template: retrying
      - name: gate
        depends: each && flaky
        template: approve
  - name: get
    inputs: {{parameters: [{{name: path}}]}}
    http:
      url: "{{{{workflow.parameters.base}}}}{{{{inputs.parameters.path}}}}"
  - name: retrying
    retryStrategy: {{limit: 3, retryPolicy: Always, backoff: {{duration: "50ms"}}}}
    http: {{url: "{{{{workflow.parameters.base}}}}/flaky"}}
  - name: approve
    suspend: {{}}
"""


def test_local_run_succeeds_with_loops_retries_and_resume_all(server: str, tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_workflow_file(_write(tmp_path, WORKFLOW.format(base=server)), {}, out=out, resume_all=True)
    text = out.getvalue()
    assert code == 0, text
    assert "local-http.each(2:c)" in text
    assert _Handler.calls["/flaky"] == 3
    assert _Handler.calls["/item/b"] == 1


def test_local_run_exit_code_is_one_on_failure(server: str, tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_workflow_file(
        _write(tmp_path, WORKFLOW.format(base=server)), {"base": server + "/status/404#"}, out=out, resume_all=True
    )
    assert code == 1, out.getvalue()
    assert "Failed" in out.getvalue()


def test_local_run_refuses_invalid_and_cluster_only_files(tmp_path: Path) -> None:
    out = io.StringIO()
    bad = WORKFLOW.format(base="http://x").replace("depends: list", "depends: list &&")
    assert run_workflow_file(_write(tmp_path, bad), {}, out=out) == 2
    assert "spec.templates[0].dag.tasks[1].depends" in out.getvalue()
    container = WORKFLOW.format(base="http://x").replace("suspend: {}", "container: {image: busybox}")
    out = io.StringIO()
    assert run_workflow_file(_write(tmp_path, container), {}, out=out) == 2
    assert "container" in out.getvalue()


WHEN_WORKFLOW = """
apiVersion: rollouts.dev/v1alpha1
kind: Workflow
metadata: {{name: local-when}}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: probe
        template: get
        arguments: {{parameters: [{{name: path, value: /status/201}}]}}
      - name: created
        depends: probe
        template: get
        arguments: {{parameters: [{{name: path, value: /created}}]}}
        when: "'{{{{tasks.probe.outputs.result}}}}' == 'status 201' && 201 == 201.0"
      - name: server-error
        depends: probe
        template: get
        arguments: {{parameters: [{{name: path, value: /server-error}}]}}
        when: "'{{{{tasks.probe.outputs.result}}}}' =~ '^status 5'"
  - name: get
    inputs: {{parameters: [{{name: path}}]}}
    http:
      url: "{base}{{{{inputs.parameters.path}}}}"
      successCondition: "response.statusCode in 200..299"
"""


def test_local_run_decides_when_in_govaluate_after_substitution(server: str, tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_workflow_file(_write(tmp_path, WHEN_WORKFLOW.format(base=server)), {}, out=out)
    assert code == 0, out.getvalue()
    assert _Handler.calls.get("/created") == 1
    assert "/server-error" not in _Handler.calls
    assert "Skipped" in out.getvalue()
