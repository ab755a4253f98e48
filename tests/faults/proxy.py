"""A TCP proxy the tests own, to refuse or black-hole a real server without stopping it.

```python
with FaultProxy("127.0.0.1", 5432) as proxy:
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
    proxy.refuse()     # new connections: ECONNREFUSED; open ones: reset
    proxy.blackhole()  # connections accepted, nothing forwarded either way
    proxy.restore()    # forwarding again, on the same port
```

It runs its own event loop in a thread, so the code under test may run in any loop or process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Literal, Self

from tests.servers import free_port

Mode = Literal["forward", "refuse", "blackhole"]
_CHUNK = 65536


class FaultProxy:
    """Forward 127.0.0.1:``port`` to ``host``:``upstream_port`` until told to fail."""

    def __init__(self, host: str, upstream_port: int) -> None:
        self.host, self.upstream_port = host, upstream_port
        self.mode: Mode = "forward"
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._resume = asyncio.Event()

    def __enter__(self) -> Self:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def refuse(self) -> None:
        """Stop listening and reset every open connection, as a server that went away."""
        self._call(self._set("refuse"))

    def blackhole(self) -> None:
        """Accept connections but forward nothing, as a network partition does."""
        self._call(self._set("blackhole"))

    def restore(self) -> None:
        """Forward again (listening again on the same port after `refuse`)."""
        self._call(self._set("forward"))

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _set(self, mode: Mode) -> None:
        previous, self.mode = self.mode, mode
        if mode == "refuse":
            await self._close(abort=True)
        elif previous == "refuse":
            await self._listen()
        if mode == "forward":
            self._resume.set()
        else:
            self._resume.clear()

    async def _shutdown(self) -> None:
        await self._close(abort=True)
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _start(self) -> None:
        await self._listen()
        self._resume.set()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _close(self, *, abort: bool) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            if abort:
                writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._resume.wait()
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(_CHUNK):
                await self._resume.wait()  # black-holed: hold the bytes, send nothing
                writer.write(data)
                await writer.drain()
        writer.close()
