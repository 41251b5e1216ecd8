"""A small progress bar with rate, tokens/s and ETA for long runs (stderr; quiet when disabled).

``tick(tokens=k)`` counts generated tokens too, shown as tokens per second.

On a terminal it redraws one line at most every ``interval`` seconds; otherwise (logs, CI) it
logs a line every ``log_every`` seconds, so a long run still shows it is alive.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Optional, TextIO

log = logging.getLogger(__name__)


def _fmt_s(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``tick(n)`` after each finished unit; ``close()`` prints the final line."""

    def __init__(self, total: int, desc: str = "", *, enabled: bool = True,
                 stream: Optional[TextIO] = None, interval: float = 0.2,
                 log_every: float = 30.0) -> None:
        self.total = total
        self.desc = desc
        self.enabled = enabled and total > 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else log_every
        self.done = 0
        self.failed = 0
        self.tokens = 0  # generated tokens, when the caller counts them (tokens/s)
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = -1  # ``done`` at the last draw, so close() does not repeat it

    def tick(self, n: int = 1, *, failed: bool = False, tokens: int = 0) -> None:
        self.done += n
        self.tokens += tokens
        if failed:
            self.failed += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            self._draw(now)

    def line(self, now: Optional[float] = None) -> str:
        now = now or time.monotonic()
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        width = 24
        fill = int(width * self.done / self.total) if self.total else width
        bar = "#" * fill + "-" * (width - fill)
        fails = f" {self.failed} failed" if self.failed else ""
        toks = f" {self.tokens / elapsed:.1f} tok/s" if self.tokens and elapsed > 0 else ""
        return (f"{self.desc} [{bar}] {self.done}/{self.total} {pct:3.0f}% "
                f"{rate:.2f}/s{toks} elapsed {_fmt_s(elapsed)} eta {_fmt_s(eta)}{fails}")

    def _draw(self, now: float) -> None:
        self._drawn = self.done
        if self.tty:
            self.stream.write("\r" + self.line(now))
            self.stream.flush()
        else:
            log.info("%s", self.line(now))

    def close(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
        elif self.done and self._drawn != self.done:
            log.info("%s", self.line())
