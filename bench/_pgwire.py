"""Count the round trips a client makes to PostgreSQL, whatever the driver or library above it.

A loopback TCP proxy in front of the server counts the server's ``ReadyForQuery`` messages:
PostgreSQL sends exactly one at the end of every simple query and every extended-protocol
``Sync``, so the count is the number of times the client waited for the server: statements,
``BEGIN``/``COMMIT``/``ROLLBACK``, prepares, pool pre-pings and pool resets alike. The proxy
answers an ``SSLRequest`` with ``N`` itself, so clients that prefer TLS carry on in clear text.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from sqlalchemy.engine import make_url

_SSL_OR_GSS = (80877103, 80877104)
_READY_FOR_QUERY = ord("Z")


class RoundTrips:
    """A proxy to ``host:port``; ``count`` is the number of round trips made through it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        self.host, self.port = host, port
        self.count = 0
        self.sent: list[str] = []
        """What clients asked for, in order: the SQL of each simple query or parse, and
        ``<sync>`` where a client waits for the server (an extended-protocol round trip)."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on a free loopback port and return it."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, url: str, port: int) -> str:
        """``url`` pointed at the proxy listening on ``port``."""
        return make_url(url).set(host="127.0.0.1", port=port).render_as_string(False)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readexactly(8)
            if struct.unpack("!ii", first)[1] in _SSL_OR_GSS:
                writer.write(b"N")
                first = b""
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
            upstream_writer.write(first)
            # The start-up message has no type byte: skip it, whole or what is left of it.
            startup = 0 if first else -1
            if first:
                startup = struct.unpack("!i", first[:4])[0] - 8
            tasks = {
                asyncio.create_task(self._record(reader, upstream_writer, startup)),
                asyncio.create_task(self._count(upstream_reader, writer)),
            }
            self._tasks |= tasks
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _count(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = bytearray()
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                buffer += data
                while len(buffer) >= 5:
                    end = 1 + int.from_bytes(buffer[1:5], "big")
                    if len(buffer) < end:
                        break
                    self.count += buffer[0] == _READY_FOR_QUERY
                    del buffer[:end]
                await writer.drain()
        writer.close()

    async def _record(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, startup: int
    ) -> None:
        """Forward the client's bytes; ``startup``: bytes of the untyped start-up message
        still to come (-1: all of it, its length not read yet)."""
        buffer = bytearray()
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                buffer += data
                if startup == -1 and len(buffer) >= 4:
                    startup = int.from_bytes(buffer[:4], "big")
                if startup > 0:
                    skipped = min(startup, len(buffer))
                    del buffer[:skipped]
                    startup -= skipped
                if startup == 0:
                    self._messages(buffer)
                await writer.drain()
        writer.close()

    def _messages(self, buffer: bytearray) -> None:
        while len(buffer) >= 5:
            end = 1 + int.from_bytes(buffer[1:5], "big")
            if len(buffer) < end:
                return
            kind, body = buffer[0:1], bytes(buffer[5:end])
            if kind == b"Q":
                self.sent.append(body.rstrip(b"\0").decode(errors="replace"))
            elif kind == b"P":
                self.sent.append(body.split(b"\0")[1].decode(errors="replace"))
            elif kind == b"S":
                self.sent.append("<sync>")
            del buffer[:end]
