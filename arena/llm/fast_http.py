"""A lean HTTP/1.1 path for chat completions, for high-concurrency runs against self-hosted
OpenAI-compatible servers (vLLM, SGLang): asyncio streams, keep-alive connection pool, one
write per request, TCP_NODELAY, JSON in and out. About a tenth of the official client's CPU
per request, which is what lets one process keep hundreds of calls in flight.

It behaves like the official client where it matters, and the contract tests
(tests/llm/test_llm_fast_http.py) check it against the official client on the same fake
server: the same request body and auth/extra headers, the same parsed results, the same
errors (status, message, Retry-After) and so the same retries. It does not do what only the
hosted API needs (proxies from the environment, HTTP/2, compressed bodies); the model entry's
``http_client: auto`` uses it only for plain ``http://`` endpoints.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, Optional
from urllib.parse import urlsplit

from arena.llm.openai_provider import (RETRYABLE_STATUS, build_body, parse_completion,
                                       parse_retry_after)
from arena.llm.types import CallError, ChatRequest, ChatResult


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        try:
            self.writer.close()
        except RuntimeError:  # the loop is already closed
            pass


class _Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class FastHTTPProvider:
    """Same contract as :class:`arena.llm.openai_provider.OpenAIProvider`, leaner client."""

    enforce_timeout = True
    preferred_concurrency: Optional[int] = None

    def __init__(self, name: str, model: str, *, api_key: str, base_url: str,
                 extra_headers: Optional[dict[str, str]] = None,
                 extra_body: Optional[dict[str, Any]] = None, max_tokens_param: str = "auto",
                 max_connections: int = 512) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"base_url {base_url!r} is not an http(s) URL")
        self.name = name
        self.model = model
        self.base_url = base_url
        self.extra_body = dict(extra_body or {})
        self.max_tokens_param = max_tokens_param
        self.max_connections = max_connections
        self._host = u.hostname
        self._ssl = u.scheme == "https"
        self._port = u.port or (443 if self._ssl else 80)
        self._path = (u.path.rstrip("/") or "") + "/chat/completions"
        host_hdr = u.netloc
        head = [f"POST {self._path} HTTP/1.1", f"Host: {host_hdr}",
                "Content-Type: application/json", "Accept: application/json",
                f"Authorization: Bearer {api_key}", "User-Agent: arena-fast-http"]
        head += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
        self._head = ("\r\n".join(head) + "\r\nContent-Length: ").encode("latin-1")
        self._idle: list[_Conn] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._slots: Optional[asyncio.Semaphore] = None

    def __repr__(self) -> str:  # never show the key
        return f"FastHTTPProvider({self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    def body(self, req: ChatRequest) -> dict[str, Any]:
        return build_body(req, self.model, max_tokens_param=self.max_tokens_param,
                          extra_body=self.extra_body)

    # -- connections ---------------------------------------------------------------------------
    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._idle = []
            self._slots = asyncio.Semaphore(self.max_connections)

    async def _open(self) -> _Conn:
        reader, writer = await asyncio.open_connection(
            self._host, self._port, ssl=True if self._ssl else None, limit=2 ** 20)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(reader, writer)

    async def _roundtrip(self, conn: _Conn, payload: bytes) -> tuple[_Response, bool]:
        conn.writer.write(payload)
        head = await conn.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise CallError(f"malformed reply: bad status line {lines[0][:80]!r}",
                            retryable=True)
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        keep = headers.get("connection", "").lower() != "close" and parts[0] != "HTTP/1.0"
        if "content-length" in headers:
            body = await conn.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(conn.reader)
        else:
            body = await conn.reader.read()
            keep = False
        return _Response(status, headers, body), keep

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        out = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readexactly(2)

    async def _post(self, payload: bytes) -> _Response:
        self._bind()
        assert self._slots is not None
        async with self._slots:
            conn = None
            while self._idle:
                c = self._idle.pop()
                # The server closed it while idle (keep-alive timeout): drop it, as httpcore
                # does, instead of sending a request that cannot be answered.
                if c.reader.at_eof() or c.writer.is_closing():
                    c.close()
                    continue
                conn = c
                break
            if conn is None:
                conn = await self._open()
            keep = False
            try:
                resp, keep = await self._roundtrip(conn, payload)
                return resp
            finally:
                if keep:
                    self._idle.append(conn)
                else:
                    conn.close()

    # -- the provider call ---------------------------------------------------------------------
    async def generate(self, request: ChatRequest, timeout_s: float) -> ChatResult:
        raw = json.dumps(self.body(request), ensure_ascii=False).encode("utf-8")
        payload = self._head + str(len(raw)).encode() + b"\r\n\r\n" + raw
        t0 = time.perf_counter()
        try:
            resp = await self._post(payload)
        except asyncio.IncompleteReadError:
            raise CallError("connection error: RemoteProtocolError: Server disconnected "
                            "without sending a response.", retryable=True) from None
        except (ConnectionError, OSError) as exc:
            raise CallError(f"connection error: {type(exc).__name__}: {exc}",
                            retryable=True) from None
        latency = time.perf_counter() - t0
        if resp.status >= 300:
            status = resp.status
            raise CallError(f"HTTP {status}: {_error_message(resp)}",
                            retryable=status in RETRYABLE_STATUS or status >= 500,
                            status=status, retry_after=parse_retry_after(resp.headers))
        try:
            data = json.loads(resp.body)
        except ValueError as exc:
            raise CallError(f"malformed reply: {type(exc).__name__}: {exc}",
                            retryable=True) from None
        if not isinstance(data, dict):
            raise CallError(f"malformed reply: {str(data)[:200]!r}", retryable=True)
        res = parse_completion(data, request.score_tokens)
        res.latency_s = latency
        return res

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for c in idle:
            c.close()
        self._loop = None


def _error_message(resp: _Response) -> str:
    """The endpoint's message as the official client reports it (error.message, or the body)."""
    try:
        data = json.loads(resp.body)
    except ValueError:
        return resp.body.decode("utf-8", "replace")[:500] or f"status {resp.status}"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(data)[:500]
