"""The contract framework: ``ChainspaceContract`` with ``@contract.method`` and
``@contract.checker``, in the shape of the original ``chainspacecontract``.

A contract has two halves (Chainspace paper, section 3.2):

* **methods** run on the client. ``method(inputs, reference_inputs, parameters, *args)``
  gets the objects it consumes and reads (:class:`ChainspaceObject` values) and its public
  parameters, plus any private arguments (a secret key, say) that are never recorded, and
  returns ``{'outputs': ..., 'returns': ..., 'extra_parameters': ...}`` (every key
  optional). The decorated method returns ``{'transaction': {...}, 'store': {...}}``,
  ready for :meth:`chainspace.ChainspaceClient.process_transaction`; the transaction's
  parameters are ``parameters + extra_parameters`` (for values computed by the method, a
  signature for instance) and its outputs are :class:`ChainspaceObject` with their IDs.
* **checkers** run on the replicas, as a service (:mod:`chainspace.service`).
  ``checker(inputs, reference_inputs, parameters, outputs, returns, dependencies)`` sees
  object *values* only and returns ``True`` to accept; anything else (``False``, another
  value, an exception, :class:`chainspace.checks.Reject`) rejects. A method without an
  explicit checker gets the *default checker*, which re-runs the method on the call's
  inputs, references and parameters and accepts only if it produces the same outputs,
  returns and dependencies.

A method may call methods of other contracts it registered with
:meth:`ChainspaceContract.register_dependency`: each such call becomes an entry of the
transaction's ``dependencies`` and commits atomically with it.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .calls import validate_call
from .checks import Reject, clip
from .ids import canonical_json, object_id, transaction_digest

__all__ = [
    "ChainspaceObject",
    "ChainspaceContract",
    "Verdict",
    "DependencyError",
    "MethodResultError",
]

log = logging.getLogger("chainspace.contract")

Checker = Callable[..., Any]


class ChainspaceObject(str):
    """An object value (a ``str``) that knows its ID, as the original framework's.

    ``ChainspaceObject(object_id, value)``: ``str(obj)`` is the value, ``obj.object_id``
    the ID. Outputs of a method call are ChainspaceObjects; pass them as the ``inputs``
    or ``reference_inputs`` of later calls. ``object_id`` is ``None`` for outputs computed
    while a checker re-runs a method (IDs are not known there).
    """

    object_id: str | None

    def __new__(cls, object_id: str | None, value: str) -> "ChainspaceObject":
        obj = super().__new__(cls, value)
        obj.object_id = object_id
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (ChainspaceObject, (self.object_id, str(self)))


@dataclass(frozen=True)
class Verdict:
    """A checker's answer: whether the call is valid, and why not."""

    success: bool
    reason: str | None = None


class DependencyError(RuntimeError):
    """A method called a method of a contract it did not register as a dependency."""


class MethodResultError(TypeError):
    """A method returned something else than ``{'outputs', 'returns',
    'extra_parameters'}`` of the right types."""


@dataclass
class _Call:
    """One finished method call: what the client gets, and the call as a checker sees it."""

    data: dict[str, Any]
    inline: dict[str, Any]
    dependencies: list[dict[str, Any]] = field(default_factory=list)
    extra_parameters: list[Any] = field(default_factory=list)


@dataclass
class _Frame:
    """The method call being run, collecting the calls it makes (its dependencies)."""

    contract: "ChainspaceContract"
    calls: list[_Call]


_FRAME: contextvars.ContextVar[_Frame | None] = contextvars.ContextVar("chainspace_frame", default=None)
_CHECKING: contextvars.ContextVar[bool] = contextvars.ContextVar("chainspace_checking", default=False)

_STANDARD = ("inputs", "reference_inputs", "parameters")
_RESULT_KEYS = frozenset({"outputs", "returns", "extra_parameters"})


def _arity(function: Callable[..., Any]) -> int:
    """How many of (inputs, reference_inputs, parameters) ``function`` takes positionally,
    so that ``def init():`` works as in the original examples."""
    params = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 3
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return min(3, len(positional))


def _required_private(function: Callable[..., Any]) -> list[str]:
    """The arguments ``function`` requires beyond the three standard ones (private
    arguments such as a secret key), which a checker cannot supply."""
    P = inspect.Parameter
    out = []
    for index, p in enumerate(inspect.signature(function).parameters.values()):
        if p.default is not P.empty or p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            continue
        if p.kind is P.KEYWORD_ONLY or index >= 3:
            out.append(p.name)
    return out


def _sequence(value: Any, what: str, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise MethodResultError(f"{where}: {what} must be a list or tuple, got {type(value).__name__}")
    return list(value)


def _read_result(result: Any, where: str) -> tuple[list[str], list[Any], list[Any]]:
    """(outputs, returns, extra_parameters) of a method's result, checked."""
    if result is None:
        result = {}
    if not isinstance(result, Mapping):
        raise MethodResultError(f"{where} must return a dict, got {type(result).__name__}")
    unknown = sorted(set(result) - _RESULT_KEYS)
    if unknown:
        raise MethodResultError(
            f"{where} returned unknown key {unknown[0]!r} (allowed: outputs, returns, extra_parameters)"
        )
    outputs = _sequence(result.get("outputs"), "outputs", where)
    for i, value in enumerate(outputs):
        if not isinstance(value, str):
            raise MethodResultError(
                f"{where}: outputs[{i}] must be a str (an object value; use json.dumps), "
                f"got {type(value).__name__}"
            )
    outputs = [str(v) for v in outputs]
    returns = _sequence(result.get("returns"), "returns", where)
    extra = _sequence(result.get("extra_parameters"), "extra_parameters", where)
    return outputs, returns, extra


class ChainspaceContract:
    """A contract: its methods, its checkers, the contracts it depends on.

    ``ChainspaceContract(name)``: ``name`` is the contract ID (``contractID``), which
    replicas use to route checker calls (``POST /<contractID>/<methodID>``).
    """

    def __init__(self, contract_name: str) -> None:
        if not isinstance(contract_name, str) or not contract_name or "/" in contract_name:
            raise ValueError("a contract name is a non-empty string without '/'")
        #: The contract ID.
        self.contract_name: str = contract_name
        #: The decorated methods (what clients call), by method ID.
        self.methods: dict[str, Callable[..., dict[str, Any]]] = {}
        #: The undecorated method functions, by method ID.
        self.methods_original: dict[str, Callable[..., Any]] = {}
        #: The explicit checkers, by method ID.
        self.checkers: dict[str, Checker] = {}
        #: The contracts whose methods this contract's methods may call.
        self.dependencies: list[ChainspaceContract] = []

    def __repr__(self) -> str:
        return f"ChainspaceContract({self.contract_name!r})"

    # -- declaring ---------------------------------------------------------------------

    def method(self, method_name: str) -> Callable[[Callable[..., Any]], Callable[..., dict[str, Any]]]:
        """Decorator declaring ``method_name``; the decorated function becomes
        ``f(inputs=None, reference_inputs=None, parameters=None, *args, **kwargs)``
        returning ``{'transaction': ..., 'store': ...}``."""

        def decorator(function: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
            arity = _arity(function)

            @functools.wraps(function)
            def wrapper(
                inputs: Sequence[str] | None = None,
                reference_inputs: Sequence[str] | None = None,
                parameters: Sequence[Any] | None = None,
                *args: Any,
                **kwargs: Any,
            ) -> dict[str, Any]:
                call = self._invoke(
                    method_name, function, arity, inputs, reference_inputs, parameters, args, kwargs
                )
                frame = _FRAME.get()
                if frame is not None:
                    frame.calls.append(call)
                return call.data

            self.methods[method_name] = wrapper
            self.methods_original[method_name] = function
            return wrapper

        return decorator

    def checker(self, method_name: str) -> Callable[[Checker], Checker]:
        """Decorator declaring the checker of ``method_name``:
        ``f(inputs, reference_inputs, parameters, outputs, returns, dependencies) -> bool``.
        The function is returned unchanged, so it can be called directly in tests."""

        def decorator(function: Checker) -> Checker:
            self.checkers[method_name] = function
            return function

        return decorator

    def register_dependency(self, dependency: "ChainspaceContract") -> None:
        """Allow this contract's methods to call ``dependency``'s methods; such calls
        become the transaction's ``dependencies``. The checker service of this contract
        also serves the checkers of its dependencies."""
        if not isinstance(dependency, ChainspaceContract):
            raise TypeError("register_dependency takes a ChainspaceContract")
        if dependency not in self.dependencies:
            self.dependencies.append(dependency)

    # -- running methods ---------------------------------------------------------------

    def _invoke(
        self,
        method_name: str,
        function: Callable[..., Any],
        arity: int,
        inputs: Sequence[str] | None,
        reference_inputs: Sequence[str] | None,
        parameters: Sequence[Any] | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> _Call:
        where = f"{self.contract_name}.{method_name}"
        parent = _FRAME.get()
        if parent is not None and parent.contract is not self and self not in parent.contract.dependencies:
            raise DependencyError(
                f"{parent.contract.contract_name} calls {where} but has not registered "
                f"{self.contract_name!r} with register_dependency"
            )
        checking = _CHECKING.get()
        standard = (
            tuple(_sequence(inputs, "inputs", where)),
            tuple(_sequence(reference_inputs, "reference_inputs", where)),
            tuple(_sequence(parameters, "parameters", where)),
        )
        for obj in standard[0] + standard[1]:
            if not isinstance(obj, str):
                raise TypeError(f"{where}: objects are strings, got {type(obj).__name__}")
            if not checking and not isinstance(getattr(obj, "object_id", None), str):
                raise TypeError(
                    f"{where}: inputs and reference inputs must be ChainspaceObjects with an "
                    f"object_id (outputs of earlier calls), got a plain {type(obj).__name__}"
                )
        if args and arity < 3:
            raise TypeError(f"{where} takes no private arguments after its standard ones")
        for name, given in zip(_STANDARD[arity:], standard[arity:], strict=True):
            if given:
                raise TypeError(f"{where} takes no {name}")

        calls: list[_Call] = []
        token = _FRAME.set(_Frame(self, calls))
        try:
            result = function(*standard[:arity], *args, **kwargs)
        finally:
            _FRAME.reset(token)
        outputs, returns, extra = _read_result(result, where)

        all_parameters = list(standard[2]) + extra
        transaction: dict[str, Any] = {
            "contractID": self.contract_name,
            "methodID": method_name,
            "inputIDs": [getattr(o, "object_id", None) for o in standard[0]],
            "referenceInputIDs": [getattr(o, "object_id", None) for o in standard[1]],
            "parameters": all_parameters,
            "outputs": outputs,
            "returns": returns,
            "dependencies": [c.data["transaction"] for c in calls],
        }
        inline = {
            "contractID": self.contract_name,
            "methodID": method_name,
            "inputs": [str(o) for o in standard[0]],
            "referenceInputs": [str(o) for o in standard[1]],
            "parameters": all_parameters,
            "outputs": outputs,
            "returns": returns,
        }
        store: dict[str, str] = {}
        for c in calls:
            for key, value in c.data["store"].items():
                _store_put(store, key, value, where)
        if checking:
            canonical_json(inline)  # raises on values that are not JSON
            transaction["outputs"] = [ChainspaceObject(None, v) for v in outputs]
        else:
            for obj in standard[0] + standard[1]:
                _store_put(store, obj.object_id, str(obj), where)  # type: ignore[attr-defined]
            digest = transaction_digest(transaction)
            transaction["outputs"] = [
                ChainspaceObject(object_id(digest, v, i), v) for i, v in enumerate(outputs)
            ]
        return _Call(
            data={"transaction": transaction, "store": store},
            inline=inline,
            dependencies=[c.inline for c in calls],
            extra_parameters=extra,
        )

    # -- checking ----------------------------------------------------------------------

    def default_checker(self, method_name: str) -> Checker:
        """The checker of a method without an explicit one: re-run the method on the
        call's values and compare outputs, returns and dependencies (by canonical JSON).
        A method that adds ``extra_parameters`` or needs private arguments cannot be
        re-run this way and needs an explicit checker."""
        function = self.methods_original[method_name]
        arity = _arity(function)
        private = _required_private(function)

        def checker(
            inputs: list[str],
            reference_inputs: list[str],
            parameters: list[Any],
            outputs: list[str],
            returns: list[Any],
            dependencies: list[dict[str, Any]],
        ) -> bool:
            if private:
                raise Reject(
                    f"{method_name} needs private arguments ({', '.join(private)}): the default "
                    "checker cannot re-run it; declare a @contract.checker"
                )
            token = _CHECKING.set(True)
            try:
                call = self._invoke(
                    method_name, function, arity, inputs, reference_inputs, parameters, (), {}
                )
            finally:
                _CHECKING.reset(token)
            if call.extra_parameters:
                raise Reject(
                    f"{method_name} adds extra_parameters: the default checker cannot re-run it; "
                    "declare a @contract.checker"
                )
            for what, got, expected in (
                ("outputs", outputs, call.inline["outputs"]),
                ("returns", returns, call.inline["returns"]),
                ("dependencies", [_nested(d) for d in dependencies], call.dependencies),
            ):
                if canonical_json(got) != canonical_json(expected):
                    raise Reject(
                        f"{what} differ from what {method_name} computes: got "
                        f"{clip(canonical_json(got))}, expected {clip(canonical_json(expected))}"
                    )
            return True

        return checker

    def checker_for(self, method_name: str) -> Checker | None:
        """The checker of ``method_name``: the explicit one, else the default checker if
        the method exists, else ``None``."""
        if method_name in self.checkers:
            return self.checkers[method_name]
        if method_name in self.methods_original:
            return self.default_checker(method_name)
        return None

    def check(self, call: Any) -> Verdict:
        """Decide a checker call (the DESIGN.md body, as parsed JSON). Never raises for a
        call of the right shape: a checker's exception is a rejection. Raises
        :class:`chainspace.calls.BadRequest` for a malformed call."""
        call = validate_call(call)
        if call["contractID"] != self.contract_name:
            return Verdict(False, f"call is for contract {clip(call['contractID'])}, not {self.contract_name!r}")
        checker = self.checker_for(call["methodID"])
        if checker is None:
            return Verdict(False, f"contract {self.contract_name!r} has no method {clip(call['methodID'])}")
        try:
            result = checker(
                call["inputs"],
                call["referenceInputs"],
                call["parameters"],
                call["outputs"],
                call["returns"],
                call["dependencies"],
            )
        except Reject as e:
            return Verdict(False, str(e) or "rejected")
        except RecursionError:
            return Verdict(False, "checker exceeded the recursion limit")
        except Exception as e:  # a checker's bug or a hostile value: reject, never crash
            log.debug("checker %s.%s raised", self.contract_name, call["methodID"], exc_info=True)
            return Verdict(False, f"checker raised {type(e).__name__}: {clip(str(e))}")
        if result is True:
            return Verdict(True)
        return Verdict(False, f"checker returned {clip(repr(result))}")

    def contracts_served(self) -> dict[str, "ChainspaceContract"]:
        """This contract and its dependencies (transitively), by contract ID: what its
        checker service answers for."""
        out: dict[str, ChainspaceContract] = {}

        def add(contract: ChainspaceContract) -> None:
            if contract.contract_name in out:
                return
            out[contract.contract_name] = contract
            for dep in contract.dependencies:
                add(dep)

        add(self)
        return out

    # -- command line ------------------------------------------------------------------

    def run_checker_service(
        self, port: int = 5001, host: str = "127.0.0.1", exit_with_parent: bool = False
    ) -> None:
        """Serve the checkers of this contract (and its dependencies) over HTTP until
        interrupted. Port 0 picks a free port; the address is printed on stdout as
        ``<contract> checker listening on http://HOST:PORT``. With ``exit_with_parent``
        the service also stops when the process that started it dies (a replica killed
        with SIGKILL cannot stop its checkers itself)."""
        from .service import CheckerService

        if exit_with_parent:
            _exit_with_parent()

        service = CheckerService(self.contracts_served(), host=host, port=port)
        bound_host, bound_port = service.address
        print(f"{self.contract_name} checker listening on http://{bound_host}:{bound_port}", flush=True)
        try:
            service.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            service.close()

    def run(self, argv: Sequence[str] | None = None) -> None:
        """Command line of a contract file: ``python contract.py checker --port N``."""
        parser = argparse.ArgumentParser(description=f"Chainspace contract {self.contract_name!r}")
        sub = parser.add_subparsers(dest="command", required=True)
        serve = sub.add_parser("checker", help="serve the contract's checkers over HTTP")
        serve.add_argument("--port", type=int, default=5001, help="TCP port (0: any free port)")
        serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
        serve.add_argument("-v", "--verbose", action="store_true", help="log every request")
        serve.add_argument(
            "--exit-with-parent",
            action="store_true",
            help="stop when the process that started this one dies (for managed checkers)",
        )
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
        if args.command == "checker":
            self.run_checker_service(
                port=args.port, host=args.host, exit_with_parent=args.exit_with_parent
            )


def _exit_with_parent(period: float = 0.5) -> None:
    """Watch the parent process from a daemon thread and exit once it is gone (the
    process is then re-parented, so its parent id changes). The parent's pid comes from
    ``CHAINSPACE_PARENT_PID`` when the starter sets it: a parent that dies while this
    process is still starting up would otherwise be missed."""
    import os
    import threading
    import time

    try:
        parent = int(os.environ["CHAINSPACE_PARENT_PID"])
    except (KeyError, ValueError):
        parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _nested(call: Mapping[str, Any]) -> dict[str, Any]:
    """A dependency as the default checker compares it: the seven keys of a nested call."""
    return {key: call.get(key) for key in ("contractID", "methodID", "inputs", "referenceInputs", "parameters", "outputs", "returns")}


def _store_put(store: dict[str, str], key: str, value: str, where: str) -> None:
    if key in store and store[key] != value:
        raise ValueError(f"{where}: object {key} is given with two different values")
    store[key] = value
