"""The client against a stand-in client API (stdlib HTTP server on a free port)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import chainspaceapi
import pytest
from chainspace import (
    ChainspaceClient,
    ChainspaceConnectionError,
    ChainspaceContract,
    transaction_digest,
)


class FakeApi(BaseHTTPRequestHandler):
    """Commits `init`, aborts anything else; knows one object; reports transactions
    after two polls."""

    requests: list[tuple[str, str, Any]] = []
    polls: dict[str, int] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(("POST", self.path, body))
        if body["transaction"]["methodID"] == "init":
            self._send(200, {"success": "True", "outcome": "accepted_t_commit"})
        else:
            self._send(409, {"success": "False", "outcome": "prepared_t_abort", "reason": "checker says no"})

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, None))
        if self.path == "/api/1.0/objects/" + "ab" * 32:
            self._send(200, {"id": "ab" * 32, "value": "0", "status": "active"})
        elif self.path.startswith("/api/1.0/transactions/"):
            tx_id = self.path.rsplit("/", 1)[1]
            self.polls[tx_id] = self.polls.get(tx_id, 0) + 1
            if tx_id == "ef" * 32:
                self._send(200, {"transactionID": tx_id, "outcome": "prepared_t_commit"})
            elif self.polls[tx_id] < 3:
                self._send(404, {"error": "unknown"})
            else:
                self._send(200, {"transactionID": tx_id, "outcome": "accepted_t_commit"})
        else:
            self._send(404, {"error": "unknown"})


@pytest.fixture()
def api() -> Iterator[ChainspaceClient]:
    FakeApi.requests = []
    FakeApi.polls = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ChainspaceClient(port=server.server_address[1], timeout=5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def contract() -> ChainspaceContract:
    c = ChainspaceContract("addition")

    @c.method("init")
    def init():
        return {"outputs": ["0"]}

    @c.method("increment")
    def increment(inputs, reference_inputs, parameters):
        return {"outputs": [str(int(inputs[0]) + 1)]}

    return c


def test_process_transaction_posts_the_original_request(api: ChainspaceClient) -> None:
    c = contract()
    init = c.methods["init"]()
    answer = api.process_transaction(init)
    assert answer.status_code == 200 and answer.ok and answer.success
    assert answer.json() == {"success": "True", "outcome": "accepted_t_commit"}
    method, path, body = FakeApi.requests[-1]
    assert (method, path) == ("POST", "/api/1.0/transaction/process")
    assert body == {"transaction": json.loads(json.dumps(init["transaction"])), "store": {}}
    counter = init["transaction"]["outputs"][0]
    refused = api.process_transaction(c.methods["increment"]([counter]))
    assert refused.status_code == 409 and not refused.ok and not refused.success
    assert refused.outcome == "prepared_t_abort"
    assert FakeApi.requests[-1][2]["store"] == {counter.object_id: "0"}
    bare = api.process_transaction(init["transaction"], store={})
    assert bare.success


def test_reads_and_waiting(api: ChainspaceClient) -> None:
    assert api.get_object("ab" * 32) == {"id": "ab" * 32, "value": "0", "status": "active"}
    assert api.get_object("cd" * 32) is None
    init = contract().methods["init"]()
    tx_id = transaction_digest(init["transaction"])
    assert api.get_transaction(tx_id) is None
    record = api.wait_for_outcome(init, timeout=5, interval=0.01)
    assert record == {"transactionID": tx_id, "outcome": "accepted_t_commit"}
    with pytest.raises(TimeoutError):
        api.wait_for_outcome("ef" * 32, timeout=0.05, interval=0.01)


def test_unreachable_api_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ChainspaceConnectionError):
        ChainspaceClient(port=port, timeout=2).get_object("ab" * 32)


def test_original_module_names() -> None:
    import chainspacecontract
    from chainspacecontract.contract import ChainspaceObject

    assert chainspaceapi.ChainspaceClient is ChainspaceClient
    assert chainspacecontract.ChainspaceContract is ChainspaceContract
    assert ChainspaceObject("x" * 64, "v").object_id == "x" * 64
    assert ChainspaceClient().url == "http://127.0.0.1:5000"
