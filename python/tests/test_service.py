"""The checker service in-process: answers, and never crashes on bad input."""

from __future__ import annotations

import http.client
import json
from typing import Any, Iterator

import pytest
from chainspace import ChainspaceContract, CheckerService


def make_contract() -> ChainspaceContract:
    c = ChainspaceContract("addition")

    @c.method("init")
    def init():
        return {"outputs": ["0"]}

    @c.checker("increment")
    def increment(inputs, reference_inputs, parameters, outputs, returns, dependencies):
        return len(inputs) == 1 and outputs == [str(int(inputs[0]) + 1)]

    return c


GOOD = {"contractID": "addition", "methodID": "increment", "inputs": ["0"], "referenceInputs": [],
        "parameters": [], "returns": [], "outputs": ["1"], "dependencies": []}


@pytest.fixture(scope="module")
def service() -> Iterator[CheckerService]:
    with CheckerService({"addition": make_contract()}, port=0, max_body=1 << 20) as s:
        yield s


def post(service: CheckerService, path: str, body: bytes | None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    host, port = service.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        if body is None:
            conn.putrequest("POST", path)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
        else:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        answer = conn.getresponse()
        assert answer.getheader("Content-Type") == "application/json"
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def post_json(service: CheckerService, path: str, body: Any) -> tuple[int, Any]:
    return post(service, path, json.dumps(body).encode())


def test_valid_and_invalid_calls(service: CheckerService) -> None:
    assert post_json(service, "/addition/increment", GOOD) == (200, {"success": True})
    status, body = post_json(service, "/addition/increment", dict(GOOD, outputs=["2"]))
    assert status == 200 and body["success"] is False and "reason" in body
    status, body = post_json(service, "/addition/init", dict(GOOD, methodID="init", inputs=[], outputs=["0"]))
    assert (status, body) == (200, {"success": True})


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"contractID": NaN}', b"[" * 100000 + b"]" * 100000,
     json.dumps({k: v for k, v in GOOD.items() if k != "inputs"}).encode(),
     json.dumps(dict(GOOD, inputs="0")).encode(),
     json.dumps(dict(GOOD, outputs=[1])).encode(),
     json.dumps(dict(GOOD, dependencies=[{}])).encode(),
     json.dumps(dict(GOOD, methodID="init")).encode(),
     json.dumps(dict(GOOD, contractID="other")).encode(),
     json.dumps(dict(GOOD, parameters=[int("9" * 4000)])).replace("9" * 4000, "9" * 5000).encode()],
)
def test_malformed_bodies_are_400(service: CheckerService, raw: bytes) -> None:
    status, body = post(service, "/addition/increment", raw)
    assert status == 400 and body["success"] is False and isinstance(body["error"], str)
    # The service is still up.
    assert post_json(service, "/addition/increment", GOOD) == (200, {"success": True})


def test_unknown_routes_sizes_and_get(service: CheckerService) -> None:
    status, body = post_json(service, "/other/increment", dict(GOOD, contractID="other"))
    assert status == 404 and body["success"] is False
    status, body = post_json(service, "/addition/decrement", dict(GOOD, methodID="decrement"))
    assert status == 404 and body["success"] is False
    status, body = post_json(service, "/addition", GOOD)
    assert status == 404 and body["success"] is False
    status, body = post(service, "/addition/increment", None)
    assert status == 411 and body["success"] is False
    status, body = post(service, "/addition/increment", None, {"Content-Length": str(2 << 20)})
    assert status == 413 and body["success"] is False
    status, body = post(service, "/addition/increment", None, {"Content-Length": "-5"})
    assert status == 400
    host, port = service.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/")
    answer = conn.getresponse()
    assert answer.status == 200
    assert json.loads(answer.read()) == {"contracts": {"addition": ["increment", "init"]}}
    conn.close()


def test_keep_alive_serves_several_calls_on_one_connection(service: CheckerService) -> None:
    host, port = service.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for outputs, expected in ((["1"], True), (["5"], False), (["1"], True)):
        conn.request("POST", "/addition/increment", body=json.dumps(dict(GOOD, outputs=outputs)),
                     headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        assert json.loads(answer.read())["success"] is expected
    conn.close()
