"""Each contract's checker service as the replicas run it: ``python <contract>.py checker
--port N`` in a subprocess on a free 127.0.0.1 port, answering a valid call with true and
an invalid one with false. Every wait is bounded and the process is always stopped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import addition
import bank_authenticated
import increment_twice
import pytest
import vote
from chainspace import transaction_inline_objects
from chainspace.ed25519 import generate_key, public_key_hex

CONTRACTS = Path(__file__).resolve().parents[1]
START_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def start(script: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start the service on a free port and wait (bounded) until it answers ``GET /``."""
    for _attempt in range(3):  # the port may be taken between choosing and binding it
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(CONTRACTS / script), "checker", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if request(url + "/")[0] == 200:
                    return proc, url
            except OSError:
                time.sleep(0.05)
        stop(proc)
    raise AssertionError(f"{script} checker did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stderr:
        proc.stderr.close()


def forge_output(call: dict[str, Any]) -> dict[str, Any]:
    forged = json.loads(json.dumps(call))
    forged["outputs"][-1] = forged["outputs"][-1].replace("0", "9", 1) if "0" in forged["outputs"][-1] else forged["outputs"][-1] + "9"
    return forged


def addition_calls() -> list[dict[str, Any]]:
    counter = addition.init()["transaction"]["outputs"][0]
    return [transaction_inline_objects(addition.increment(inputs=[counter]))]


def increment_twice_calls() -> list[dict[str, Any]]:
    counter = addition.init()["transaction"]["outputs"][0]
    data = increment_twice.increment(inputs=[counter])
    top = transaction_inline_objects(data)
    dep = transaction_inline_objects({"transaction": data["transaction"]["dependencies"][0], "store": data["store"]})
    return [top, dep]  # the service serves its dependency's checker too


def bank_calls() -> list[dict[str, Any]]:
    alice, bob = generate_key(), generate_key()
    a = bank_authenticated.create_account(parameters=[public_key_hex(alice), 10, "a"])
    b = bank_authenticated.create_account(parameters=[public_key_hex(bob), 0, "b"])
    t = bank_authenticated.transfer([a["transaction"]["outputs"][0], b["transaction"]["outputs"][0]], None, [4], alice)
    return [transaction_inline_objects(a), transaction_inline_objects(t)]


def vote_calls() -> list[dict[str, Any]]:
    voter = generate_key()
    created = vote.create(parameters=[["yes", "no"], [public_key_hex(voter)], "poll"])
    cast = vote.cast([created["transaction"]["outputs"][0]], None, [1], voter)
    return [transaction_inline_objects(created), transaction_inline_objects(cast)]


CASES: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
    ("addition.py", addition_calls),
    ("increment_twice.py", increment_twice_calls),
    ("bank_authenticated.py", bank_calls),
    ("vote.py", vote_calls),
]


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES])
def service(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    script, calls = request.param
    proc, url = start(script)
    try:
        yield url, calls()
    finally:
        stop(proc)


def test_service_answers_true_then_false(service: tuple[str, list[dict[str, Any]]]) -> None:
    url, calls = service
    for call in calls:
        path = f"{url}/{call['contractID']}/{call['methodID']}"
        assert request(path, call) == (200, {"success": True}), call
        status, body = request(path, forge_output(call))
        assert status == 200 and body["success"] is False, call
        status, body = request(path, {"contractID": call["contractID"]})
        assert status == 400 and body["success"] is False


def test_a_managed_service_exits_when_its_parent_is_killed() -> None:
    """``--exit-with-parent``: a replica killed with SIGKILL cannot stop its checker, so
    the checker notices its parent is gone and exits by itself."""
    import os
    import signal

    # An intermediate parent (standing in for the replica) starts the service and
    # prints the service's pid, then waits forever.
    launcher = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, {str(CONTRACTS / 'addition.py')!r}, 'checker',"
        " '--port', '0', '--exit-with-parent'], stdout=subprocess.DEVNULL,"
        " env={**os.environ, 'CHAINSPACE_PARENT_PID': str(os.getpid())})\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE)
    child = None
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline().decode().strip())
        os.kill(child, 0)  # it runs
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.monotonic() + 10
        gone = False
        while time.monotonic() < deadline:
            if not _running(child):
                gone = True
                break
            time.sleep(0.1)
        state = open(f"/proc/{child}/stat").read()[:60] if not gone else ""
        assert gone, f"the service outlived its parent: {state}"
    finally:
        parent.kill()
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _running(pid: int) -> bool:
    """Whether `pid` is alive (an exited process nobody reaped yet, a zombie, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
