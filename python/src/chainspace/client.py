"""The client of a Chainspace node's client API (the original ``chainspaceapi``).

``ChainspaceClient(host, port).process_transaction(data)`` posts
``{"transaction": ..., "store": ...}`` (what a contract method returns) to
``POST /api/1.0/transaction/process``. The node answers HTTP 200
``{"success": "True", "outcome": "accepted_t_commit"}`` on commit, and a non-2xx status
with ``{"success": "False", "outcome": ..., "reason": ...}`` otherwise; both come back as a
:class:`Response` (no exception for a non-2xx status).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

from .ids import transaction_digest

__all__ = ["ChainspaceClient", "Response", "ChainspaceConnectionError", "FINAL_OUTCOMES"]

#: Outcomes after which a transaction's fate no longer changes.
FINAL_OUTCOMES = frozenset({"accepted_t_commit", "accepted_t_abort", "prepared_t_abort"})


class ChainspaceConnectionError(ConnectionError):
    """The client API could not be reached (refused, timed out, no such host)."""


@dataclass
class Response:
    """An HTTP answer of the client API: ``status_code``, ``text``, ``headers``, and
    ``json()``, like the ``requests`` response the original client returned."""

    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not)."""
        return json.loads(self.text)

    @property
    def success(self) -> bool:
        """Whether the node reports success (``"success": "True"`` or ``true``)."""
        try:
            body = self.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("success") in ("True", True)

    @property
    def outcome(self) -> str | None:
        """The ``outcome`` of the answer, if any (``accepted_t_commit``, ...)."""
        try:
            body = self.json()
        except ValueError:
            return None
        value = body.get("outcome") if isinstance(body, dict) else None
        return value if isinstance(value, str) else None


def _transaction_id(transaction: str | Mapping[str, Any]) -> str:
    if isinstance(transaction, str):
        return transaction
    inner = transaction.get("transaction")
    return transaction_digest(inner if isinstance(inner, Mapping) else transaction)


class ChainspaceClient:
    """Talks to the client API at ``http://host:port`` (default ``127.0.0.1:5000``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5000, timeout: float = 30.0) -> None:
        host_part = f"[{host}]" if ":" in host and not host.startswith("[") else host
        #: The base URL of the client API.
        self.url: str = f"http://{host_part}:{port}"
        #: Seconds to wait for one HTTP answer.
        self.timeout: float = timeout

    def _request(self, method: str, path: str, body: Any = None) -> Response:
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.read().decode("utf-8", "replace"), dict(answer.headers))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace") if e.fp is not None else ""
            return Response(e.code, text, dict(e.headers or {}))
        except (urllib.error.URLError, OSError) as e:
            raise ChainspaceConnectionError(f"{method} {self.url}{path}: {e}") from e

    def process_transaction(self, transaction: Mapping[str, Any], store: Mapping[str, str] | None = None) -> Response:
        """Submit a transaction: ``transaction`` is what a contract method returns
        (``{"transaction": ..., "store": ...}``) or a bare transaction dict with its
        ``store`` given separately. Returns the node's answer, whatever its status."""
        if "transaction" in transaction:
            body = {"transaction": transaction["transaction"], "store": dict(transaction.get("store") or {})}
        else:
            body = {"transaction": dict(transaction), "store": dict(store or {})}
        if store is not None and "transaction" in transaction:
            body["store"].update(store)
        return self._request("POST", "/api/1.0/transaction/process", body)

    def _get(self, path: str) -> Any | None:
        answer = self._request("GET", path)
        if answer.status_code == 404:
            return None
        if not answer.ok:
            raise RuntimeError(f"GET {path}: HTTP {answer.status_code}: {answer.text[:200]}")
        return answer.json()

    def get_object(self, object_id: str) -> Any | None:
        """``GET /api/1.0/objects/{id}``: the object as the node reports it, or ``None``
        if it does not know it."""
        return self._get(f"/api/1.0/objects/{quote(object_id, safe='')}")

    def get_transaction(self, transaction: str | Mapping[str, Any]) -> Any | None:
        """``GET /api/1.0/transactions/{id}``: the node's record of a transaction (given
        by ID, or as the transaction / method result, whose digest is computed), or
        ``None`` if it has none."""
        return self._get(f"/api/1.0/transactions/{quote(_transaction_id(transaction), safe='')}")

    def wait_for_outcome(
        self, transaction: str | Mapping[str, Any], timeout: float = 30.0, interval: float = 0.2
    ) -> Any:
        """Poll :meth:`get_transaction` until the record's ``outcome`` is final
        (:data:`FINAL_OUTCOMES`) and return the record; ``TimeoutError`` after
        ``timeout`` seconds."""
        tx_id = _transaction_id(transaction)
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = self.get_transaction(tx_id)
            if isinstance(last, dict) and last.get("outcome") in FINAL_OUTCOMES:
                return last
            if time.monotonic() >= deadline:
                raise TimeoutError(f"transaction {tx_id}: no final outcome after {timeout}s (last: {last!r:.200})")
            time.sleep(interval)
