"""The Python worker: runs user code of Python nodes, one call at a time, in its own process.

The sidecar never runs user Python in its own interpreter. It starts this file in a child process
(``noodl-sidecar python-worker``, which loads it by path, as the JavaScript prelude is loaded) and
speaks msgpack over the child's stdin and stdout: one map per call in, one map per answer out.

A call (``op`` ``"function"``, ``"expression"``, ``"transform"`` or ``"template"``) carries the
source and the input values. While it runs, user code may ask the sidecar
for records through the ``noodl`` module: the worker writes ``{"host": [op, args]}`` and blocks on
the answer ``{"ok", "result" | "error"}`` before the call's own answer goes out. The answer carries
``ok``, the effects the code had in order (``["set", name, value]``, ``["signal", name]``), the
``result`` of an expression, transform or template, the captured ``logs``
(``{"level", "message"}`` from ``print``, ``sys.stderr`` and ``logging``), the ``error`` with a
traceback trimmed to the user's code, and now and then the worker's resident memory (``rss``: with
the first answer, every 16th, and after any call that ran for a millisecond or more) so the pool can
recycle a worker that grows.

Limits, given at start (``--memory-bytes``, ``--cpu-seconds``): the memory limit (``RLIMIT_AS``) is set
once, soft and hard, so user code cannot raise it; the CPU allowance of each call is kept as the soft
``RLIMIT_CPU`` (the kernel ends the process
with SIGXCPU when it is spent). Both exist on Linux and macOS; elsewhere (Windows) the ``resource``
module is missing and only the pool's wall-time limit applies. A ``MemoryError`` is answered with
``limit: "memory"`` and the worker exits, so the pool replaces it with a fresh one.

This file imports only the standard library and msgpack (and Jinja2, on the first template call):
it is the worker's whole world.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import io
import logging
import math
import os
import re
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import msgpack

try:
    import resource
except ImportError:  # Windows: no rlimits, the pool's wall-time limit is the only guard
    resource = None  # type: ignore[assignment]

_COMPILED_CACHE_SIZE = 256
# The resident memory goes with every this many answers, and with an answer to a call that took this
# long (only a call that runs a while can touch much memory); the pool retires a worker that grew.
_RSS_EVERY_CALLS = 16
_RSS_AFTER_SECONDS = 0.001
_FILENAME = "<python node>"
_READ_SIZE = 1 << 16


class _Call:
    """What one call of user code did: effects in order and log lines."""

    def __init__(self) -> None:
        self.effects: list[list[Any]] = []
        self.logs: list[dict[str, str]] = []

    def log(self, level: str, message: str) -> None:
        self.logs.append({"level": level, "message": message})


_current: _Call | None = None


class _LineCapture(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` during a call: each complete line becomes a log line."""

    def __init__(self, level: str) -> None:
        self._level = level
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            _log(self._level, line)
        return len(text)

    def flush_partial(self) -> None:
        if self._partial:
            _log(self._level, self._partial)
            self._partial = ""


def _log(level: str, message: str) -> None:
    if _current is not None:
        _current.log(level, message)


class _LogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _log(record.levelname.lower(), self.format(record))
        except Exception:  # a bad log call must not fail the user's code
            self.handleError(record)


class Outputs(dict[str, Any]):
    """``outputs``: a dict whose assignments are sent on the node's ``out-<name>`` ports."""

    def __init__(self, call: _Call) -> None:
        super().__init__()
        self._call = call

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        self._call.effects.append(["set", str(name), _wire(value)])

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for name, value in dict(*args, **kwargs).items():
            self[name] = value


def _compiled(cache: dict[tuple[str, str], Any], op: str, source: str) -> Any:
    key = (op, source)
    code = cache.get(key)
    if code is None:
        if op == "expression":
            code = compile(source, _FILENAME, "eval", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        else:
            code = compile(source, _FILENAME, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        if len(cache) >= _COMPILED_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = code
    return code


_pack_folders: set[str] = set()  # folders of custom node packs: their frames are user code too


def _is_user_frame(filename: str) -> bool:
    return filename == _FILENAME or any(filename.startswith(folder) for folder in _pack_folders)


def _user_traceback(error: BaseException) -> str:
    """The exception with only the frames of the user's code (the worker's own frames dropped)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if _is_user_frame(frame.filename)]
    lines = traceback.format_list(frames) if frames else []
    if isinstance(error, SyntaxError) and error.filename == _FILENAME:
        lines = []
    text = "".join(traceback.format_exception_only(type(error), error)).rstrip()
    if not lines:
        return text
    return "Traceback (most recent call last):\n" + "".join(lines) + text


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


class _CpuAllowance:
    """Each call may use ``seconds`` of CPU: before it, the soft ``RLIMIT_CPU`` is put at least that far
    above the CPU the worker used so far, rounded up to whole seconds (the limit's unit), so a call
    gets between ``seconds`` and one second more.

    Reading the CPU used is a system call, which most calls skip: since the last reading the worker
    cannot have used more CPU than the time passed times its processors (threads included), so while
    the limit set then stays far enough ahead by that bound, it still allows the call its share."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.processors = os.cpu_count() or 1
        self.soft: int | None = None  # the soft limit set last (whole seconds)
        self.read_at = 0.0  # monotonic time just before the last reading of the CPU used
        self.used = 0.0  # the CPU seconds used at that reading

    def renew(self) -> None:
        if resource is None or self.seconds <= 0:
            return
        now = time.monotonic()
        most_used = self.used + (now - self.read_at) * self.processors
        if self.soft is not None and most_used + self.seconds <= self.soft:
            return
        self.read_at, self.used = now, _cpu_seconds()
        soft = math.ceil(self.used + self.seconds)
        if soft == self.soft:
            return  # most calls of a busy worker land in the same whole second: no system call
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        self.soft = soft


_statm_fd: int | None = None
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    global _statm_fd
    try:
        if _statm_fd is None:  # opened once: a read per call is a single pread
            _statm_fd = os.open("/proc/self/statm", os.O_RDONLY)
        return int(os.pread(_statm_fd, 128, 0).split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError, AttributeError):
        if resource is None:
            return 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _plain(value: Any) -> Any:
    """msgpack's ``default``: sets as lists, anything else as its ``str``."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


def _wire(value: Any, depth: int = 0) -> Any:
    """A value as the graph can hold it: map keys as text (JSON's rule; the sidecar refuses others)."""
    if isinstance(value, dict) and depth < 200:
        return {k if isinstance(k, str) else str(k): _wire(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and depth < 200:
        return [_wire(v, depth + 1) for v in value]
    return value


_MISSING = object()


def _transform(code: Any, inputs: dict[str, Any]) -> Any:
    """``map``/``filter``/``reduce`` of ``inputs["items"]`` with the callable the source evaluates to."""
    function = eval(code, {"__builtins__": builtins, "__name__": "__noodl__"})
    if not callable(function):
        raise TypeError("the expression must be a callable, such as `lambda item: item * 2`")
    items = inputs.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise TypeError(f"Items must be a list, not {type(items).__name__}")
    operation = inputs.get("operation")
    if operation == "map":
        return [function(item) for item in items]
    if operation == "filter":
        return [item for item in items if function(item)]
    if operation == "reduce":
        initial = inputs.get("initial", _MISSING)
        if initial is _MISSING or initial is None:
            return functools.reduce(function, items)
        return functools.reduce(function, items, initial)
    raise ValueError(f"unknown operation {operation!r}")


_templates: dict[tuple[str, bool], Any] = {}


def _render(source: str, inputs: dict[str, Any], autoescape: bool) -> str:
    """A template rendered by Jinja2's sandbox: no attribute of Python's internals, no unsafe call."""
    key = (source, autoescape)
    template = _templates.get(key)
    if template is None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        environment = ImmutableSandboxedEnvironment(autoescape=autoescape)
        template = environment.from_string(source)
        if len(_templates) >= _COMPILED_CACHE_SIZE:
            _templates.pop(next(iter(_templates)))
        _templates[key] = template
    return str(template.render(**inputs))


class RecordsError(Exception):
    """A records call the sidecar refused (unknown collection, ACL, bad arguments, no store)."""


def _record_id(record: Any) -> Any:
    return record.get("id", record.get("objectId")) if isinstance(record, dict) else record


def _noodl_module(host: Callable[[str, list[Any]], Any]) -> types.ModuleType:
    """``import noodl``: ``noodl.records`` mirrors the JavaScript ``Noodl.Records`` of Function nodes."""
    module = types.ModuleType("noodl", "Services of the backend for Python nodes (records).")
    records = types.SimpleNamespace()

    def query(
        collection: str,
        where: dict[str, Any] | None = None,
        *,
        sort: str | list[str] | None = None,
        limit: int | None = None,
        skip: int | None = None,
        count: bool = False,
        include: str | list[str] | None = None,
    ) -> Any:
        options = {"sort": sort, "limit": limit, "skip": skip, "count": count, "include": include}
        options = {key: value for key, value in options.items() if value is not None}
        return host("records.query", [collection, where or {}, options])

    def fetch(record: Any, collection: str | None = None) -> Any:
        return host("records.fetch", [collection, _record_id(record)])

    def create(collection: str, data: dict[str, Any]) -> Any:
        return host("records.create", [collection, data])

    def save(record: Any, data: dict[str, Any] | None = None, *, collection: str | None = None) -> Any:
        if data is None and isinstance(record, dict):
            data = {k: v for k, v in record.items() if k not in ("id", "objectId", "createdAt", "updatedAt")}
        return host("records.save", [_record_id(record), data or {}, {"collection": collection}])

    def delete(record: Any, *, collection: str | None = None) -> None:
        host("records.delete", [_record_id(record), {"collection": collection}])

    def count(collection: str, where: dict[str, Any] | None = None) -> Any:
        return host("records.count", [collection, where or {}])

    def distinct(collection: str, field: str, where: dict[str, Any] | None = None) -> Any:
        return host("records.distinct", [collection, field, where or {}])

    def increment(record: Any, amounts: dict[str, Any], *, collection: str | None = None) -> Any:
        return host("records.increment", [_record_id(record), amounts, {"collection": collection}])

    def _relation(
        op: str, record: Any, key: str, target: Any, collection: str | None, target_collection: str | None
    ) -> None:
        options = {
            "recordId": _record_id(record),
            "key": key,
            "targetRecordId": _record_id(target),
            "collection": collection,
            "targetCollection": target_collection,
        }
        host(op, [{k: v for k, v in options.items() if v is not None}])

    def add_relation(
        record: Any,
        key: str,
        target: Any,
        *,
        collection: str | None = None,
        target_collection: str | None = None,
    ) -> None:
        _relation("records.addRelation", record, key, target, collection, target_collection)

    def remove_relation(
        record: Any,
        key: str,
        target: Any,
        *,
        collection: str | None = None,
        target_collection: str | None = None,
    ) -> None:
        _relation("records.removeRelation", record, key, target, collection, target_collection)

    for function in (
        query,
        fetch,
        create,
        save,
        delete,
        count,
        distinct,
        increment,
        add_relation,
        remove_relation,
    ):
        setattr(records, function.__name__, function)
    module.records = records  # type: ignore[attr-defined]
    module.RecordsError = RecordsError  # type: ignore[attr-defined]
    module.node = node  # type: ignore[attr-defined]
    module.Port = Port  # type: ignore[attr-defined]
    return module


# ---- custom node packs ---------------------------------------------------------------------------------
_PORT_TYPES: dict[Any, str] = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    object: "*",
    Any: "*",
}
_TYPE_NAMES = frozenset(["string", "number", "boolean", "object", "array", "signal", "*"])
_NODE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[.-][A-Za-z0-9_]+)*")
_PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Port:
    """``noodl.Port(type, default=..., display_name=...)``: a port with more than its type."""

    def __init__(self, type: Any = Any, *, default: Any = None, display_name: str | None = None) -> None:
        self.type = type
        self.default = default
        self.display_name = display_name


_registering: list[dict[str, Any]] | None = None  # the nodes the file being imported declares


def node(
    target: Any = None,
    *,
    name: str | None = None,
    display_name: str | None = None,
    category: str | None = None,
    docs: str | None = None,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
) -> Any:
    """``@noodl.node(...)`` on an ``async def f(inputs) -> dict`` or on a class with ``async def
    execute(self, inputs) -> dict``; a class may give ``name``, ``inputs`` … as class attributes."""

    def register(declared: Any) -> Any:
        def attribute(key: str, given: Any) -> Any:
            return given if given is not None else getattr(declared, key, None)

        entry = {
            "target": declared,
            "name": attribute("name", name) if inspect.isclass(declared) else (name or declared.__name__),
            "display_name": attribute("display_name", display_name),
            "category": attribute("category", category),
            "docs": attribute("docs", docs) or inspect.getdoc(declared) or "",
            "inputs": attribute("inputs", inputs) or {},
            "outputs": attribute("outputs", outputs) or {},
        }
        if _registering is not None:
            _registering.append(entry)
        return declared

    return register(target) if target is not None else register


def _port_type(spec: Any) -> str:
    kind = spec.type if isinstance(spec, Port) else spec
    if isinstance(kind, str):
        if kind not in _TYPE_NAMES:
            raise TypeError(f"unknown port type {kind!r}")
        return kind
    if kind in _PORT_TYPES:
        return _PORT_TYPES[kind]
    raise TypeError(f"unknown port type {kind!r}: use str, int, float, bool, dict, list, Any or 'signal'")


def _describe_ports(entry: dict[str, Any], side: str) -> list[dict[str, Any]]:
    ports = entry[side]
    if not isinstance(ports, dict):
        raise TypeError(f"{side} must be a dict of port name to type")
    described = []
    for port_name, spec in ports.items():
        if not isinstance(port_name, str) or not _PORT_NAME.fullmatch(port_name):
            raise ValueError(f"bad {side[:-1]} name {port_name!r}")
        if side == "inputs" and port_name == "run":
            raise ValueError("'run' is the node's own input (the signal that runs it)")
        port: dict[str, Any] = {"name": port_name, "type": _port_type(spec)}
        if isinstance(spec, Port):
            if spec.display_name:
                port["displayName"] = str(spec.display_name)
            if spec.default is not None and side == "inputs":
                port["default"] = _wire(spec.default)
        described.append(port)
    return described


def _describe(entry: dict[str, Any]) -> dict[str, Any]:
    """The node's descriptor for the sidecar; raises on anything it could not run or list."""
    name = entry["name"]
    if not isinstance(name, str) or not _NODE_NAME.fullmatch(name):
        raise ValueError(f"bad node name {name!r}: letters, digits, '_', '.', '-'")
    target = entry["target"]
    execute = getattr(target, "execute", None) if inspect.isclass(target) else target
    if not callable(execute):
        raise TypeError(f"node {name!r} has no execute method")
    if not inspect.iscoroutinefunction(execute):
        raise TypeError(f"node {name!r}: execute must be an async def")
    return {
        "name": name,
        "displayName": str(entry["display_name"] or name),
        "category": str(entry["category"] or "Python Nodes"),
        "docs": str(entry["docs"]),
        "inputs": _describe_ports(entry, "inputs"),
        "outputs": _describe_ports(entry, "outputs"),
    }


class _Packs:
    """The pack files of one folder, imported once per version of each file (path, mtime, size)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[tuple[int, int], dict[str, dict[str, Any]]]] = {}

    def load(self, path: str) -> dict[str, dict[str, Any]]:
        global _registering
        stat = os.stat(path)
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        folder = os.path.dirname(path)
        _pack_folders.add(folder + os.sep)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # a pack may import its helper modules beside it
        _registering = []
        try:
            with open(path, encoding="utf-8") as source_file:
                source = source_file.read()
            module = types.ModuleType("noodl_pack_" + os.path.splitext(os.path.basename(path))[0])
            module.__file__ = path
            exec(compile(source, path, "exec"), module.__dict__)
            found = list(_registering)
        finally:
            _registering = None
        nodes = {}
        for entry in found:
            nodes[str(entry["name"])] = entry
        self._files[path] = (version, nodes)
        return nodes

    def discover(self, folder: str) -> dict[str, Any]:
        listed: list[dict[str, Any]] = []
        problems: list[dict[str, str]] = []
        names: dict[str, str] = {}
        for file_name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if not file_name.endswith(".py") or file_name.startswith(("_", ".")):
                continue
            path = os.path.join(folder, file_name)
            try:
                entries = list(self.load(path).values())
            except BaseException as error:  # a broken pack is reported; the others still load
                problems.append({"file": file_name, "error": _user_traceback(error)})
                continue
            for entry in entries:
                try:
                    described = _describe(entry)
                    if described["name"] in names:
                        raise ValueError(
                            f"node {described['name']!r} is also declared in {names[described['name']]}"
                        )
                except Exception as error:
                    problems.append({"file": file_name, "error": str(error)})
                    continue
                names[described["name"]] = file_name
                listed.append({**described, "file": file_name})
        return {"nodes": listed, "problems": problems}

    def execute(self, path: str, name: str, inputs: dict[str, Any]) -> Any:
        entry = self.load(path).get(name)
        if entry is None:
            raise LookupError(f"no node {name!r} in {os.path.basename(path)} any more")
        target = entry["target"]
        execute = target().execute if inspect.isclass(target) else target
        return execute(inputs)


class Worker:
    def __init__(self, read_fd: int, write_fd: int, cpu_seconds: float = 0.0) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._cpu = _CpuAllowance(cpu_seconds)
        self._calls = 0
        self._cache: dict[tuple[str, str], Any] = {}
        self._loop: Any = None  # an event loop for async user code, made on its first coroutine
        self._stdout = _LineCapture("info")
        self._stderr = _LineCapture("error")
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=256 * 1024 * 1024)
        # One packer for every answer (packb makes one each time); it forgets one it failed to pack.
        self._packer = msgpack.Packer(default=_plain, use_bin_type=True)
        self._packs = _Packs()
        sys.modules["noodl"] = _noodl_module(self._host)

    def serve(self) -> int:
        while True:
            data = os.read(self._read_fd, _READ_SIZE)
            if not data:
                return 0  # the sidecar closed the pipe (recycling, shutdown, or it died)
            self._unpacker.feed(data)
            for message in self._unpacker:
                answer, exit_after = self._answer(message)
                self._send(answer)
                if exit_after:
                    return 3

    def _host(self, op: str, args: list[Any]) -> Any:
        """Ask the sidecar to do ``op`` for the running call, and wait for its answer."""
        if _current is None:
            raise RecordsError("noodl.records is only available while a node runs")
        try:
            request = msgpack.packb({"host": [op, _wire(args)]}, default=_plain, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as error:
            raise RecordsError(f"the arguments could not be sent: {error}") from None
        self._write(request)
        while True:
            for answer in self._unpacker:
                if not isinstance(answer, dict):
                    raise RecordsError("the sidecar sent an answer that could not be read")
                if not answer.get("ok"):
                    raise RecordsError(str(answer.get("error") or "the records call failed"))
                return answer.get("result")
            data = os.read(self._read_fd, _READ_SIZE)
            if not data:
                os._exit(0)  # the sidecar is gone: nothing can answer
            self._unpacker.feed(data)

    def _send(self, answer: dict[str, Any]) -> None:
        try:
            data = self._packer.pack(answer)
        except (TypeError, ValueError, OverflowError) as error:
            data = msgpack.packb(
                {
                    "ok": False,
                    "error": f"a value could not be sent: {error}",
                    "effects": [],
                    "logs": answer.get("logs", []),
                    "rss": answer.get("rss", 0),
                },
                use_bin_type=True,
            )
        self._write(data)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._write_fd, view)
            view = view[written:]

    def _answer(self, message: Any) -> tuple[dict[str, Any], bool]:
        global _current
        if not isinstance(message, dict):
            return {"ok": False, "error": "bad call", "effects": [], "logs": [], "rss": _rss_bytes()}, False
        call = _Call()
        _current = call
        answer: dict[str, Any] = {"ok": True}
        exit_after = False
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self._stdout, self._stderr
        started = time.perf_counter()
        try:
            self._cpu.renew()
            answer["result"] = self._run(message, call)
        except MemoryError:
            call.effects.clear()
            answer = {"ok": False, "limit": "memory", "error": "Python code exceeded its memory limit"}
            exit_after = True
        except BaseException as error:  # SystemExit and KeyboardInterrupt from user code are failures too
            answer = {"ok": False, "error": _user_traceback(error)}
        finally:
            self._stdout.flush_partial()
            self._stderr.flush_partial()
            sys.stdout, sys.stderr = saved
            _current = None
        answer["effects"] = call.effects
        answer["logs"] = call.logs
        self._calls += 1
        if self._calls % _RSS_EVERY_CALLS == 1 or time.perf_counter() - started >= _RSS_AFTER_SECONDS:
            answer["rss"] = _rss_bytes()  # a system call: not with every quick answer
        return answer, exit_after

    def _run(self, message: dict[str, Any], call: _Call) -> Any:
        op = message.get("op")
        source = str(message.get("source") or "")
        inputs = message.get("inputs") or {}
        if op == "template":
            return _render(source, dict(inputs), bool(message.get("autoescape")))
        if op == "discover":
            return self._packs.discover(str(message.get("folder") or ""))
        if op == "custom":
            value = self._packs.execute(str(message.get("file")), str(message.get("name")), dict(inputs))
            if inspect.iscoroutine(value):
                value = self._await(value)
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"execute must return a dict of outputs, not {type(value).__name__}")
            return _wire(value or {})
        if op not in ("function", "expression", "transform"):
            raise ValueError(f"unknown call {op!r}")
        code = _compiled(self._cache, "function" if op == "function" else "expression", source)
        if op == "transform":
            return _wire(_transform(code, dict(inputs)))
        # A fresh namespace per call: no run sees another's globals.
        namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__noodl__"}
        if op == "expression":
            namespace.update(inputs)
        else:
            namespace["inputs"] = dict(inputs)
            namespace["outputs"] = Outputs(call)

            def send_signal(name: str) -> None:
                call.effects.append(["signal", str(name)])

            namespace["send_signal"] = send_signal
            namespace["noodl"] = sys.modules["noodl"]
        value = eval(code, namespace)
        if inspect.iscoroutine(value):
            value = self._await(value)
        return _wire(value) if op == "expression" else None

    def _await(self, coroutine: Any) -> Any:
        import asyncio  # only code that awaits pays for loading asyncio (start time, idle memory)

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        loop = self._loop
        try:
            return loop.run_until_complete(coroutine)
        finally:
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def _claim_pipes() -> tuple[int, int]:
    """Keep stdin/stdout for the protocol on private descriptors; fds 0 and 1 become harmless."""
    read_fd = os.dup(0)
    write_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # a write to fd 1 from C code or a child process lands on stderr, never the protocol
    os.close(devnull)
    return read_fd, write_fd


def _release_pipes(read_fd: int, write_fd: int) -> None:
    """In a child of ``os.fork()`` made by user code: the protocol's descriptors become ``/dev/null``, so
    a child that runs on into the worker's loop reads the end of input and exits instead of reading the
    next call (another run's inputs) or answering it with its own outputs."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, read_fd)
    os.dup2(devnull, write_fd)
    os.close(devnull)


def _set_limits(memory_bytes: int) -> None:
    if resource is None:
        return
    # SIGXCPU would otherwise dump core into the scratch folder.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def main(argv: list[str]) -> int:
    memory_bytes = 0
    cpu_seconds = 0.0
    paths = []
    for arg in argv:
        if arg.startswith("--memory-bytes="):
            memory_bytes = int(arg.split("=", 1)[1])
        elif arg.startswith("--cpu-seconds="):
            cpu_seconds = float(arg.split("=", 1)[1])
        elif arg.startswith("--path="):
            paths.append(arg.split("=", 1)[1])
    sys.path[:0] = paths  # the backend's own packages come before everything else
    read_fd, write_fd = _claim_pipes()
    if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork either
        os.register_at_fork(after_in_child=lambda: _release_pipes(read_fd, write_fd))
    root = logging.getLogger()
    root.handlers[:] = [_LogHandler()]
    root.setLevel(logging.INFO)
    worker = Worker(read_fd, write_fd, cpu_seconds)
    _set_limits(memory_bytes)
    return worker.serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
