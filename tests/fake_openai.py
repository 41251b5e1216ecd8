"""A fake OpenAI-compatible chat-completions server for tests and benchmarks (real sockets).

Usage::

    with FakeOpenAI(reply=lambda req: "hello", latency=0.0) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
        ...
        srv.requests          # every request body received (parsed JSON), in arrival order
        srv.headers           # their headers (lower-case names), same order
        srv.arrivals          # their arrival times (time.monotonic())
        srv.count("model-a")  # how many requests named that model
        srv.max_inflight      # the most requests handled at once
        srv.faults_served     # (fault kind or status, model) of each fault injected

Replies are scripted by a callable on the request JSON (or a fixed value). It returns:

- a ``str``: the assistant message content;
- a ``dict``: ``{"content", "reasoning_content", "finish_reason", "prompt_tokens",
  "completion_tokens", "logprobs"}`` (any subset), or a full response body under key ``"body"``;
  ``"logprobs"`` is the first output token's distribution as ``[(token, logprob), ...]``, most
  likely first: when the request asks for ``logprobs`` the reply carries
  ``choices[0].logprobs.content[0]`` with that token and its ``top_logprobs`` cut to the
  request's ``top_logprobs`` (as OpenAI's API does); without the request, or without the key,
  ``logprobs`` is null (an endpoint that does not support them);
- a :class:`Fault`: what goes wrong with this reply.

``replies={"model-a": fn_or_str, ...}`` scripts per model (falling back to ``reply``).
``faults=fn(request_json, attempt) -> Fault | None`` injects faults where ``attempt`` counts
how often the server has seen an identical request body (1 for the first): a deterministic way
to say "fail the first try of every fifth question". ``reject_params={"top_k"}`` makes the
server answer 400 naming the parameter, as endpoints do for parameters they do not support.

Faults: ``Fault.rate_limit(retry_after)`` (429 + Retry-After), ``Fault.server_error()`` (500),
``Fault.slow(seconds)`` (a valid reply, late), ``Fault.malformed()`` (200 with broken JSON),
``Fault.drop()`` (the connection closes without a reply), ``Fault.status(code, message)``.
``keepalive_timeout`` closes connections idle that long (as uvicorn does after 5 s).

Batch API (``/v1/files`` and ``/v1/batches``, as the official client calls them): an
uploaded JSONL input file becomes a batch whose lines are answered by the same reply / replies
/ faults scripting as chat completions (a judge fixture gives the same verdicts in both modes;
a line whose reply is a ``Fault.status`` lands in the error file with that status).
``batch_delay``: an ``int`` is the number of status polls a batch stays ``in_progress``, a
``float`` the seconds it does. ``batch_script=fn(batch_index, custom_ids) -> dict`` may say
``{"expire_after": k}`` (only the first k lines are done, then the batch expires),
``{"fail": {custom_id: status}}`` (those lines go to the error file), ``{"malformed":
[custom_id, ...]}`` (their output lines are cut short: not JSON), ``{"unknown": n}`` (n extra
output lines for request ids never sent), ``{"status": "failed"}`` (the batch fails,
validation errors, no output). ``srv.batches`` lists the created batches (``id``,
``custom_ids``, ``status``...), ``srv.batch_polls`` counts retrieves, ``srv.batch_lines`` the
lines answered. A cancelled batch stays ``cancelled`` with no output. ``on_batch_create(rec)``
runs once a batch exists and before the create call is answered (a test kills its client
there: the batch exists, the client never heard its id).

Each reply is written in one ``send`` with TCP_NODELAY set, so a client never waits ~40 ms on
delayed ACKs. The server is threaded (one thread per connection, HTTP/1.1 keep-alive).

Run standalone (benchmarks put it in its own process)::

    python tests/fake_openai.py --latency 0.1   # prints "PORT <n>" then serves until killed
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union

Reply = Union[str, dict, "Fault"]
ReplyFn = Callable[[dict], Reply]
FaultFn = Callable[[dict, int], Optional["Fault"]]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 0.0
    status_code: int = 500
    message: str = ""

    @staticmethod
    def rate_limit(retry_after: float = 0.05) -> "Fault":
        return Fault("status", seconds=retry_after, status_code=429, message="rate limited")

    @staticmethod
    def server_error(message: str = "internal error") -> "Fault":
        return Fault("status", status_code=500, message=message)

    @staticmethod
    def status(code: int, message: str = "error") -> "Fault":
        return Fault("status", status_code=code, message=message)

    @staticmethod
    def slow(seconds: float) -> "Fault":
        return Fault("slow", seconds=seconds)

    @staticmethod
    def malformed() -> "Fault":
        return Fault("malformed")

    @staticmethod
    def drop() -> "Fault":
        return Fault("drop")


def echo_reply(req: dict) -> str:
    """Default reply: names the model and echoes the last user message."""
    last = ""
    for m in req.get("messages", []):
        if m.get("role") == "user":
            last = m.get("content") if isinstance(m.get("content"), str) else str(m.get("content"))
    return f"[{req.get('model')}] {last}"


def _body_key(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class FakeOpenAI:
    """A threaded fake OpenAI-compatible server on 127.0.0.1 (port 0 = any free port)."""

    def __init__(self, reply: Union[ReplyFn, str, None] = None, *,
                 replies: Optional[dict[str, Union[ReplyFn, str]]] = None,
                 faults: Optional[FaultFn] = None, latency: float = 0.0,
                 reject_params: Optional[set[str]] = None, port: int = 0,
                 record: bool = True, keepalive_timeout: Optional[float] = None,
                 batch_delay: Union[int, float] = 0,
                 batch_script: Optional[Callable[[int, list[str]], dict]] = None,
                 on_batch_create: Optional[Callable[[dict], None]] = None) -> None:
        self.reply = reply if reply is not None else echo_reply
        self.replies = dict(replies or {})
        self.faults = faults
        self.latency = latency
        self.reject_params = set(reject_params or ())
        self.record = record
        self.keepalive_timeout = keepalive_timeout  # close idle connections after this long
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.faults_served: list[tuple[str, str]] = []  # (fault kind/status, model)
        self.arrivals: list[float] = []  # time.monotonic() of each chat request
        self.inflight = 0
        self.max_inflight = 0  # most chat requests being handled at once
        self.batch_delay = batch_delay
        self.batch_script = batch_script
        self.on_batch_create = on_batch_create
        self.files: dict[str, bytes] = {}
        self.batches: list[dict[str, Any]] = []  # created batches (their custom_ids too)
        self.batch_polls = 0
        self.batch_lines = 0
        self._batch_by_id: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, int] = {}
        self._first: Optional[float] = None
        self._last: Optional[float] = None
        self._lock = threading.Lock()
        self._port = port
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        handler = _make_handler(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024
            allow_reuse_address = True

        self._httpd = Server(("127.0.0.1", self._port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- inspection --------------------------------------------------------------------------
    def count(self, model: Optional[str] = None) -> int:
        with self._lock:
            if model is None:
                return len(self.requests)
            return sum(1 for r in self.requests if r.get("model") == model)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self.faults_served.clear()
            self.arrivals.clear()
            self._seen.clear()
            self._first = self._last = None
            self.max_inflight = 0

    def stats(self) -> dict[str, Any]:
        """Chat requests received, distinct request bodies, first and last arrival (seconds
        on this process's monotonic clock)."""
        with self._lock:
            return {"requests": sum(self._seen.values()), "distinct": len(self._seen),
                    "first": self._first, "last": self._last}

    # -- request handling (called from handler threads) ---------------------------------------
    def _note(self, raw: bytes, req: dict, headers: dict[str, str]) -> int:
        key = _body_key(raw)
        with self._lock:
            if self.record:
                self.requests.append(req)
                self.headers.append(headers)
                self.arrivals.append(time.monotonic())
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            self._seen[key] = self._seen.get(key, 0) + 1
            now = time.monotonic()
            self._first = now if self._first is None else self._first
            self._last = now
            return self._seen[key]

    def _respond(self, req: dict, attempt: int) -> tuple[Optional[Fault], Optional[dict]]:
        fault = self.faults(req, attempt) if self.faults else None
        if fault is not None:
            return fault, None
        bad = sorted(p for p in self.reject_params if p in req)
        if bad:
            return Fault.status(400, f"Unsupported parameter: '{bad[0]}' is not supported "
                                     f"with this model."), None
        fn = self.replies.get(req.get("model", ""), self.reply)
        out = fn(req) if callable(fn) else fn
        if isinstance(out, Fault):
            return out, None
        return None, self._body(req, out)

    @staticmethod
    def _body(req: dict, out: Union[str, dict]) -> dict:
        spec: dict[str, Any] = {"content": out} if isinstance(out, str) else dict(out)
        if "body" in spec:
            return spec["body"]
        content = spec.get("content", "")
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if spec.get("reasoning_content") is not None:
            message["reasoning_content"] = spec["reasoning_content"]
        prompt_chars = sum(len(str(m.get("content", ""))) for m in req.get("messages", []))
        usage_p = spec.get("prompt_tokens", max(1, prompt_chars // 4))
        usage_c = spec.get("completion_tokens", max(1, len(content or "") // 4))
        logprobs = None
        if spec.get("logprobs") and req.get("logprobs"):
            top = [{"token": t, "logprob": float(lp), "bytes": list(t.encode("utf-8"))}
                   for t, lp in spec["logprobs"]]
            first = dict(top[0])
            first["top_logprobs"] = top[:int(req.get("top_logprobs") or 0)]
            logprobs = {"content": [first], "refusal": None}
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": req.get("model", ""),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": spec.get("finish_reason", "stop"),
                         "logprobs": logprobs}],
            "usage": {"prompt_tokens": usage_p, "completion_tokens": usage_c,
                      "total_tokens": usage_p + usage_c},
        }


class _Batches:
    """The Batch API side of :class:`FakeOpenAI` (methods take the server)."""

    @staticmethod
    def new_file(server: FakeOpenAI, data: bytes, purpose: str, filename: str) -> dict:
        with server._lock:
            fid = f"file-{len(server.files) + 1:06d}"
            server.files[fid] = data
        return {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed"}

    @staticmethod
    def create(server: FakeOpenAI, req: dict) -> tuple[int, dict]:
        data = server.files.get(str(req.get("input_file_id")))
        if data is None:
            return 404, {"error": {"message": f"no file {req.get('input_file_id')}"}}
        lines = [json.loads(x) for x in data.splitlines() if x.strip()]
        with server._lock:
            index = len(server.batches)
            bid = f"batch_{index + 1:06d}"
            b = {"id": bid, "object": "batch", "endpoint": req.get("endpoint"),
                 "errors": None, "input_file_id": req.get("input_file_id"),
                 "completion_window": req.get("completion_window"), "status": "validating",
                 "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "in_progress_at": None, "expires_at": None,
                 "completed_at": None, "failed_at": None, "expired_at": None,
                 "cancelled_at": None,
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "metadata": req.get("metadata")}
            server.batches.append({"id": bid, "index": index,
                                   "custom_ids": [x["custom_id"] for x in lines],
                                   "status": "validating", "created": time.monotonic(),
                                   "polls": 0, "object": b, "lines": lines})
            server._batch_by_id[bid] = server.batches[-1]
        if server.on_batch_create is not None:  # e.g. kill the client before it hears back
            server.on_batch_create(server.batches[-1])
        return 200, b

    @staticmethod
    def retrieve(server: FakeOpenAI, bid: str) -> tuple[int, dict]:
        with server._lock:
            rec = server._batch_by_id.get(bid)
            if rec is None:
                return 404, {"error": {"message": f"no batch {bid}"}}
            server.batch_polls += 1
            rec["polls"] += 1
            obj = rec["object"]
            if rec["status"] in ("completed", "failed", "expired", "cancelled"):
                return 200, dict(obj)
            delay = server.batch_delay
            waited = (rec["polls"] > delay if isinstance(delay, int) and
                      not isinstance(delay, bool)
                      else time.monotonic() - rec["created"] >= float(delay))
            if not waited:
                rec["status"] = obj["status"] = "in_progress"
                obj["in_progress_at"] = obj["in_progress_at"] or int(time.time())
                return 200, dict(obj)
        try:
            _Batches.finish(server, rec)
        except Exception as exc:  # a reply script that raised: the batch fails, visibly
            rec["status"] = "failed"
            rec["object"].update(status="failed", failed_at=int(time.time()), errors={
                "object": "list", "data": [{"code": "fake_error", "message": repr(exc),
                                            "line": None, "param": None}]})
        return 200, dict(rec["object"])

    @staticmethod
    def finish(server: FakeOpenAI, rec: dict) -> None:
        script = (server.batch_script(rec["index"], list(rec["custom_ids"]))
                  if server.batch_script else None) or {}
        obj = rec["object"]
        if script.get("status") == "failed":
            obj.update(status="failed", failed_at=int(time.time()),
                       errors={"object": "list", "data": [
                           {"code": "invalid_request", "message": "scripted failure",
                            "line": 1, "param": None}]})
            rec["status"] = "failed"
            return
        lines = rec["lines"]
        limit = script.get("expire_after")
        todo = lines if limit is None else lines[:int(limit)]
        fail = dict(script.get("fail") or {})
        malformed = set(script.get("malformed") or ())
        out, err = [], []
        done = failed = 0
        for n, line in enumerate(todo):
            cid, body = line["custom_id"], line["body"]
            if cid in fail:
                err.append({"id": f"batch_req_{n}", "custom_id": cid, "response": {
                    "status_code": int(fail[cid]), "request_id": f"req_{n}", "body": {
                        "error": {"message": "scripted failure", "type": "fake_error"}}},
                    "error": None})
                failed += 1
                continue
            attempt = server._note(json.dumps(body, sort_keys=True).encode(), body, {})
            try:
                fault, reply = server._respond(body, attempt)
            finally:
                with server._lock:
                    server.inflight -= 1
                    server.batch_lines += 1
            if fault is not None and fault.kind == "status":
                err.append({"id": f"batch_req_{n}", "custom_id": cid, "response": {
                    "status_code": fault.status_code, "request_id": f"req_{n}", "body": {
                        "error": {"message": fault.message, "type": "fake_error"}}},
                    "error": None})
                failed += 1
                continue
            if fault is not None:  # other faults: a reply the transport would have broken
                reply = FakeOpenAI._body(body, echo_reply(body))
            text = json.dumps({"custom_id": cid, "id": f"batch_req_{n}", "response": {
                "status_code": 200, "request_id": f"req_{n}", "body": reply}, "error": None})
            if cid in malformed:
                text = text[:len(text) // 2]  # cut short: not JSON, the id still readable
            out.append(text)
            done += 1
        for k in range(int(script.get("unknown") or 0)):
            body = lines[0]["body"] if lines else {"model": "x", "messages": []}
            out.append(json.dumps({"custom_id": f"unknown-{k}", "id": f"batch_req_u{k}",
                                   "response": {"status_code": 200, "request_id": "r",
                                                "body": FakeOpenAI._body(body, "stray")},
                                   "error": None}))
        status = "completed" if limit is None or limit >= len(lines) else "expired"
        if out:
            obj["output_file_id"] = _Batches.new_file(
                server, ("\n".join(out) + "\n").encode(), "batch_output", "out.jsonl")["id"]
        if err:
            obj["error_file_id"] = _Batches.new_file(
                server, ("\n".join(json.dumps(e) for e in err) + "\n").encode(),
                "batch_output", "err.jsonl")["id"]
        obj["request_counts"] = {"total": len(lines), "completed": done, "failed": failed}
        obj["status"] = status
        obj["completed_at" if status == "completed" else "expired_at"] = int(time.time())
        rec["status"] = status

    @staticmethod
    def cancel(server: FakeOpenAI, bid: str) -> tuple[int, dict]:
        with server._lock:
            rec = server._batch_by_id.get(bid)
            if rec is None:
                return 404, {"error": {"message": f"no batch {bid}"}}
            if rec["status"] not in ("completed", "failed", "expired", "cancelled"):
                rec["status"] = "cancelled"
                rec["object"].update(status="cancelled", cancelled_at=int(time.time()))
            return 200, dict(rec["object"])


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[Optional[str], bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body (what httpx sends)."""
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    out: dict[str, tuple[Optional[str], bytes]] = {}
    for part in raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, body = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disp = head.decode("latin-1")
        name = disp.split('name="', 1)[1].split('"', 1)[0]
        filename = disp.split('filename="', 1)[1].split('"', 1)[0] if 'filename="' in disp \
            else None
        out[name] = (filename, body[:-2] if body.endswith(b"\r\n") else body)
    return out


def _make_handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = server.keepalive_timeout  # socket timeout: an idle connection is closed

        def setup(self) -> None:
            super().setup()
            # Without this every reply can wait ~40 ms on the client's delayed ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

        def _send(self, status: int, body: bytes, extra: Optional[dict[str, str]] = None,
                  content_type: str = "application/json") -> None:
            head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                    f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                    "Connection: keep-alive"]
            for k, v in (extra or {}).items():
                head.append(f"{k}: {v}")
            # One write per reply (headers and body together).
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

        def _error(self, status: int, message: str, extra: Optional[dict[str, str]] = None) -> None:
            body = json.dumps({"error": {"message": message, "type": "fake_error",
                                         "code": status}}).encode()
            self._send(status, body, extra)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj).encode())

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = self.path.split("?", 1)[0].rstrip("/")
            parts = path.split("/")
            if "/files/" in path and path.endswith("/content"):
                data = server.files.get(parts[-2])
                if data is None:
                    self._error(404, f"no file {parts[-2]}")
                else:
                    self._send(200, data, content_type="application/octet-stream")
            elif "/batches/" in path:
                self._json(*_Batches.retrieve(server, parts[-1]))
            elif path.endswith("/batches"):
                with server._lock:
                    data = [dict(r["object"]) for r in server.batches]
                self._json(200, {"object": "list", "data": data, "has_more": False})
            elif self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": []}).encode())
            elif self.path.rstrip("/").endswith("/stats"):  # for benchmarks in other processes
                self._send(200, json.dumps(server.stats()).encode())
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            raw = self._read_body()
            path = self.path.split("?", 1)[0].rstrip("/")
            if path.endswith("/files"):
                form = _multipart(self.headers.get("Content-Type", ""), raw)
                fname, data = form.get("file", (None, b""))
                purpose = form.get("purpose", (None, b""))[1].decode()
                self._json(200, _Batches.new_file(server, data, purpose, fname or "input"))
                return
            if path.endswith("/cancel") and "/batches/" in path:
                self._json(*_Batches.cancel(server, path.split("/")[-2]))
                return
            if path.endswith("/batches"):
                self._json(*_Batches.create(server, json.loads(raw)))
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._error(404, f"no route {self.path}")
                return
            try:
                req = json.loads(raw)
            except ValueError:
                self._error(400, "request body is not JSON")
                return
            attempt = server._note(raw, req, {k.lower(): v for k, v in self.headers.items()})
            try:
                fault, body = server._respond(req, attempt)
                if server.latency:
                    time.sleep(server.latency)
                if fault is not None:
                    with server._lock:
                        tag = fault.kind if fault.kind != "status" else str(fault.status_code)
                        server.faults_served.append((tag, str(req.get("model"))))
                    self._fault(fault, req)
                    return
                self._send(200, json.dumps(body).encode())
            finally:
                with server._lock:
                    server.inflight -= 1

        def _fault(self, fault: Fault, req: dict) -> None:
            if fault.kind == "status":
                extra = {}
                if fault.status_code == 429:
                    extra["Retry-After"] = f"{fault.seconds:g}"
                    extra["retry-after-ms"] = str(int(fault.seconds * 1000))
                self._error(fault.status_code, fault.message, extra)
            elif fault.kind == "slow":
                time.sleep(fault.seconds)
                try:
                    self._send(200, json.dumps(FakeOpenAI._body(req, echo_reply(req))).encode())
                except OSError:
                    pass  # the client gave up first: that is the point of this fault
            elif fault.kind == "malformed":
                self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"mess')
            elif fault.kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            else:
                raise ValueError(f"unknown fault {fault.kind}")

    return Handler


def spawn(*args: str) -> tuple["subprocess.Popen[str]", int]:
    """Run this server standalone in a child process (benchmarks: its CPU is not the
    client's) with the command-line ``args``; (the process, its port). Raises SystemExit
    when it does not print its port."""
    import subprocess

    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise SystemExit(f"fake server did not start: {line}")
    return proc, int(line[1])


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Serve the fake OpenAI-compatible endpoint.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per reply")
    ap.add_argument("--reply", default=None, help="fixed reply text (default: echo)")
    ap.add_argument("--batch-delay", type=int, default=0, help="polls a batch stays open")
    args = ap.parse_args(argv)
    srv = FakeOpenAI(args.reply, latency=args.latency, port=args.port, record=False,
                     batch_delay=args.batch_delay).start()
    print(f"PORT {srv.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
