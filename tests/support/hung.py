"""A loopback HTTP endpoint that hangs: it reads each request, then answers only after ``hang`` seconds -- unless the
client closes the connection first, which it records as *abandoned*. Tests of cancellation assert on those records
(the request was made, then given up by the client) rather than on how long something took."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n" + b'{"ok":true}'


#: A Workflow whose one step calls ``{url}/hang`` with a 1 s step timeout (``.format(url=...)``).
HUNG_WORKFLOW = """
apiVersion: rollouts.dev/v1alpha1
kind: Workflow
metadata: {{name: hung}}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: call, template: call}}
  - name: call
    timeout: 1s
    http: {{url: "{url}/hang", timeoutSeconds: 30}}
"""


@dataclass
class HungServer:
    url: str = ""
    hang: float = 5.0
    received: int = 0  # requests read completely
    abandoned: int = 0  # connections the client closed while its request hung
    answered: int = 0  # requests that waited the whole hang and got their answer
    changed: threading.Condition = field(default_factory=threading.Condition)
    # readable once the server stops, so hung handlers end at once
    wakeup: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)

    def wait_until(self, predicate: Callable[[HungServer], bool], timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for ``predicate`` over the counters; whether it came true."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout=timeout)

    def _count(self, name: str) -> None:
        with self.changed:
            setattr(self, name, getattr(self, name) + 1)
            self.changed.notify_all()

    def serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            self._count("received")
            # readable before the hang ends: the client closed (or reset) the connection, i.e. gave the request up
            readable, _, _ = select.select([connection, self.wakeup[0]], [], [], self.hang)
            if self.wakeup[0] in readable:
                return  # the server stops
            if connection in readable:
                self._count("abandoned")
                return
            with contextlib.suppress(OSError):
                connection.sendall(_ANSWER)
                self._count("answered")


@contextmanager
def hung_server(*, hang: float = 5.0) -> Iterator[HungServer]:
    """A :class:`HungServer` on 127.0.0.1, one thread per connection (a listen backlog for hundreds at once)."""
    server = HungServer(hang=hang)
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    listener.settimeout(0.1)
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop = threading.Event()
    handlers: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            handler = threading.Thread(target=server.serve, args=(connection,), name="hung-handler", daemon=True)
            handlers.append(handler)
            handler.start()

    thread = threading.Thread(target=accept, name="hung-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
        server.wakeup[1].send(b"x")
        for handler in handlers:
            handler.join(timeout=2)
        for end in server.wakeup:
            end.close()
