"""The checker service: contract checkers over HTTP, as the Rust replicas call them.

``POST /<contractID>/<methodID>`` with the DESIGN.md body (``Content-Type:
application/json``) answers:

* ``200 {"success": true}`` when the checker accepts the call;
* ``200 {"success": false, "reason": "..."}`` when it rejects it;
* ``400 {"success": false, "error": "..."}`` for a body that is not JSON or not of the
  documented shape, or whose contractID/methodID differ from the URL's;
* ``404 {"success": false, "error": "..."}`` for an unknown contract or method;
* ``411`` / ``413`` for a missing or too large ``Content-Length``;
* ``500 {"success": false, "error": "..."}`` if the service itself fails (a bug).

``GET /`` answers ``{"contracts": {contractID: [methodID, ...]}}``, handy as a readiness
probe. Every answer is JSON with a ``Content-Length``; the service never crashes on bad
input.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Mapping, NoReturn
from urllib.parse import unquote, urlsplit

from .calls import BadRequest, validate_call

if TYPE_CHECKING:
    from .contract import ChainspaceContract

__all__ = ["CheckerService", "MAX_BODY_BYTES"]

log = logging.getLogger("chainspace.service")

#: The largest request body accepted (bytes).
MAX_BODY_BYTES = 16 * 1024 * 1024


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


class _Handler(BaseHTTPRequestHandler):
    server_version = "chainspace-checker/0.1"
    protocol_version = "HTTP/1.1"
    #: Seconds a client may stay silent before its connection is dropped.
    timeout = 30
    #: Answers are small and sent in two writes (headers, body): with Nagle's algorithm
    #: the second waits for the client's delayed ACK, capping a kept-alive connection at
    #: about 40 checks per second. Measured: 43/s with it, 4,200/s without.
    disable_nagle_algorithm = True
    contracts: Mapping[str, "ChainspaceContract"] = {}
    max_body: int = MAX_BODY_BYTES

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s " + format, self.address_string(), *args)

    def _answer(self, status: int, body: Mapping[str, Any], close: bool = False) -> None:
        data = json.dumps(body).encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, close: bool = False) -> None:
        self._answer(status, {"success": False, "error": message}, close)

    def do_GET(self) -> None:
        if urlsplit(self.path).path in ("/", ""):
            self._answer(
                200,
                {
                    "contracts": {
                        name: sorted(set(c.methods_original) | set(c.checkers))
                        for name, c in sorted(self.contracts.items())
                    }
                },
            )
        else:
            self._error(404, "checkers answer POST /<contractID>/<methodID>")

    def do_POST(self) -> None:
        try:
            self._post()
        except Exception as e:  # a bug in the service: answer, never die
            log.exception("checker service failed")
            try:
                self._error(500, f"internal error: {type(e).__name__}", close=True)
            except OSError:
                self.close_connection = True

    def _read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._error(411, "a Content-Length header is required", close=True)
            return None
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._error(400, "invalid Content-Length", close=True)
            return None
        if length > self.max_body:
            self._error(413, f"body larger than {self.max_body} bytes", close=True)
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            self._error(400, "body shorter than its Content-Length", close=True)
            return None
        return body

    def _post(self) -> None:
        parts = urlsplit(self.path).path.split("/")
        if len(parts) != 3 or parts[0] != "" or not parts[1] or not parts[2]:
            self._error(404, "checkers answer POST /<contractID>/<methodID>", close=True)
            return
        contract_id, method_id = unquote(parts[1]), unquote(parts[2])
        body = self._read_body()
        if body is None:
            return
        contract = self.contracts.get(contract_id)
        if contract is None:
            self._error(404, f"no contract {contract_id[:80]!r} here")
            return
        try:
            call = validate_call(json.loads(body.decode("utf-8"), parse_constant=_no_constants))
        except UnicodeDecodeError:
            self._error(400, "body is not UTF-8")
            return
        except RecursionError:
            self._error(400, "body is nested too deeply")
            return
        except BadRequest as e:
            self._error(400, f"malformed checker call: {e}")
            return
        except ValueError as e:
            self._error(400, f"body is not JSON: {str(e)[:200]}")
            return
        if call["contractID"] != contract_id or call["methodID"] != method_id:
            self._error(400, "contractID and methodID of the body differ from the URL's")
            return
        if contract.checker_for(method_id) is None:
            self._error(404, f"contract {contract_id!r} has no method {method_id[:80]!r}")
            return
        verdict = contract.check(call)
        answer: dict[str, Any] = {"success": verdict.success}
        if verdict.reason is not None:
            answer["reason"] = verdict.reason
        self._answer(200, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class CheckerService:
    """An HTTP server answering checker calls for ``contracts`` (contract ID ->
    :class:`chainspace.ChainspaceContract`). Port 0 picks a free port; see
    :attr:`address`. Use :meth:`serve_forever`, or :meth:`start` to serve from a daemon
    thread (tests), and :meth:`close` to stop."""

    def __init__(
        self,
        contracts: Mapping[str, "ChainspaceContract"],
        host: str = "127.0.0.1",
        port: int = 5001,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        handler = type(
            "CheckerHandler", (_Handler,), {"contracts": dict(contracts), "max_body": max_body}
        )
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the service listens on."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host, port = self.address
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Answer requests until :meth:`close` (from another thread) or an interrupt."""
        self._server.serve_forever(poll_interval=0.05)

    def start(self) -> "CheckerService":
        """Serve from a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self.serve_forever, name="chainspace-checker", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "CheckerService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
