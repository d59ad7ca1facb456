"""Partner files are read in a process of their own, under hard limits, so that no file can take the load task down.

Why. A partner file is untrusted input read by native code: calamine (Rust) for .xlsx, pyarrow's CSV reader
(C++), zlib. Read in the load task's own process, one bad file could cost the other files of its batch their
receipts: a tiny .xlsx whose used range is enormous makes the reader allocate it and abort the process; a cell
longer than the csv module's field limit raises; a zip member whose checksum fails raises from deep inside a
reader. So ``parse`` hands each file to a *reader*: a child process (``python -m
eviction_prevention.parse.sandbox``) that runs ``files.parse_bytes`` on it and sends the result back.

Limits, per file (``partners.ReadLimits``, per partner in config/partners.yaml; README lists them):

- **bytes**: ``Partner.max_file_bytes`` (a larger file is quarantined before it is downloaded);
- **memory**: the reader's address space is capped (``RLIMIT_AS``) at what it uses idle plus ``memory_mb``: an
  allocation beyond it fails (Python's MemoryError, or an abort in native code, which ends the reader);
- **seconds**: a file not read within ``seconds`` is abandoned and the reader killed;
- **cells** and **unpacked bytes**: checked by the reading itself (``reader``, ``xlsx_reader``), before the big
  allocations.

Whatever goes wrong becomes that file's rejection (an ``Issue`` with a Dutch reason naming the limit or the kind
of damage), and the next file gets a fresh reader if the old one is gone. A reason never quotes an exception's
text (it can hold a cell of the file): only which limit, or the exception's class. The reader's stderr is
discarded for the same reason.

One reader serves every file of a process (starting one imports pandas, pyarrow and the readers, about a
second); it is started on first use and again after it died or was killed.
"""

from __future__ import annotations

import atexit
import csv
import logging
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from eviction_prevention.parse.files import parse_bytes
from eviction_prevention.parse.issues import FileRejected, Issue, ParseResult, cell_too_long
from eviction_prevention.parse.xlsx_reader import damaged_xlsx
from eviction_prevention.partners import Layout, ReadLimits

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!Q")  # length of the pickled message that follows
_READY = b"R"  # the reader's first byte: it has imported what it needs
_STARTUP_SECONDS = 120
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class _Request:
    data: bytes
    layout: Layout
    kind: str
    limits: ReadLimits


# ------------------------------------------------------------------------------------------- reasons


def _reason(code: str, message: str) -> ParseResult:
    return ParseResult(frame=_empty_frame(), issues=[Issue(code, message)])


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame()


def exception_reason(exc: BaseException, limits: ReadLimits) -> ParseResult:
    """The rejection for an exception raised while reading a file: a Dutch reason by the kind of exception,
    never its text."""
    if isinstance(exc, MemoryError):
        return _reason("read_memory", f"het bestand vraagt bij het lezen meer dan {limits.memory_mb} MB geheugen")
    if isinstance(exc, csv.Error) and "field limit" in str(exc):
        return ParseResult(_empty_frame(), cell_too_long().issues)
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return ParseResult(_empty_frame(), damaged_xlsx().issues)
    if isinstance(exc, RecursionError):
        return _reason("read_nesting", "het bestand is te diep genest om te lezen")
    return _reason(
        "read_error", f"het bestand kon niet worden gelezen (onverwachte fout van het type {type(exc).__name__})"
    )


# ---------------------------------------------------------------------------------------- the reader


def _vm_bytes() -> int:
    """This process's current address space (Linux: /proc/self/statm; elsewhere 0)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _cap_memory(limits: ReadLimits, idle: int) -> None:
    """Cap the address space at ``idle`` + the file's allowance (the soft limit, so the next file can set its own)."""
    if not idle:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = idle + limits.memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _read_exactly(stream: Any, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _serve() -> None:
    """The reader's loop: one request in, one answer out, until stdin closes. An answer is the ParseResult and
    whether the reader ends after it: a MemoryError ends it (its heap may be left fragmented), and the parent
    starts another for the next file."""
    stdin = sys.stdin.buffer
    # answers go to a private copy of stdout; anything a library prints goes to stderr (discarded)
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    idle = _vm_bytes()
    stdout.write(_READY)  # imported: the parent starts a file's clock from here
    stdout.flush()
    while (head := _read_exactly(stdin, _HEADER.size)) is not None:
        body = _read_exactly(stdin, _HEADER.unpack(head)[0])
        if body is None:
            return
        request: _Request = pickle.loads(body)
        _cap_memory(request.limits, idle)
        out_of_memory = False
        try:
            result = parse_bytes(request.data, request.layout, request.kind, request.limits)
        except FileRejected as exc:
            result = ParseResult(_empty_frame(), exc.issues)
        except BaseException as exc:
            out_of_memory = isinstance(exc, MemoryError)
            result = exception_reason(exc, request.limits)
        request_limits = request.limits
        del request, body
        try:
            answer = pickle.dumps((result, out_of_memory), protocol=5)
        except MemoryError:
            out_of_memory = True
            answer = pickle.dumps((exception_reason(MemoryError(), request_limits), True), protocol=5)
        stdout.write(_HEADER.pack(len(answer)) + answer)
        stdout.flush()
        if out_of_memory:
            return


class Reader:
    """A reader process, started on first use and again after it ended (see module doc)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            path = os.environ.get("PYTHONPATH", "")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_ROOT, path) if p)}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "eviction_prevention.parse.sandbox"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a traceback could quote a cell of the file
                env=env,
            )
            try:
                if self._receive(self._process, _STARTUP_SECONDS, len(_READY)) != _READY:
                    raise EOFError
            except (TimeoutError, EOFError) as exc:
                self._kill()
                raise RuntimeError("the file reader did not start") from exc
        return self._process

    def stop(self) -> None:
        """End the reader (it would end by itself when this process does: its stdin closes)."""
        with self._lock:
            self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None

    def parse(self, data: bytes, layout: Layout, kind: str, limits: ReadLimits) -> ParseResult:
        """``files.parse_bytes`` of one file in the reader, under ``limits``."""
        with self._lock:
            request = pickle.dumps(_Request(data, layout, kind, limits), protocol=5)
            process = self._started()
            deadline = time.monotonic() + limits.seconds
            try:
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(_HEADER.pack(len(request)) + request)
                process.stdin.flush()
                answer = self._answer(process, deadline)
            except TimeoutError:
                self._kill()
                seconds = f"{limits.seconds:g}"
                return _reason("read_timeout", f"het bestand kon niet binnen {seconds} seconden worden gelezen")
            except (BrokenPipeError, EOFError):
                code = self._ended_with()
                log.warning("the file reader stopped (exit status %s) while reading a file", code)
                return _reason(
                    "read_aborted",
                    "het lezen van het bestand is afgebroken: het bestand is beschadigd of vraagt meer dan "
                    f"{limits.memory_mb} MB geheugen",
                )
            result, ending = pickle.loads(answer)
            if ending:  # the reader ends after a MemoryError: the next file gets a new one
                self._kill()
            return result

    def _ended_with(self) -> int | None:
        process = self._process
        self._kill()
        return None if process is None else process.returncode

    def _answer(self, process: subprocess.Popen[bytes], deadline: float) -> bytes:
        """One length-prefixed answer, read by ``deadline``."""
        head = self._receive(process, deadline - time.monotonic(), _HEADER.size)
        return self._receive(process, deadline - time.monotonic(), _HEADER.unpack(head)[0])

    @staticmethod
    def _receive(process: subprocess.Popen[bytes], seconds: float, n: int) -> bytes:
        """``n`` bytes from the reader within ``seconds`` (TimeoutError), or EOFError if it ended."""
        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = time.monotonic() + seconds
        buffer = bytearray()
        while len(buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(n - len(buffer), 1 << 20))
            if not chunk:
                raise EOFError
            buffer += chunk
        return bytes(buffer)


_READER = Reader()
atexit.register(_READER.stop)


def parse(data: bytes, layout: Layout, kind: str, limits: ReadLimits) -> ParseResult:
    """Parse one partner file in this process's reader (see module doc)."""
    return _READER.parse(data, layout, kind, limits)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a reader ends
    _serve()
