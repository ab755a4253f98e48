"""`Idempotency`: the dependency that stores a keyed request's response in its own transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Row, Table
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from fastapi_pro._shared.routes import route_template
from fastapi_pro.db import SessionDep
from fastapi_pro.errors import AppError, declare_problems
from fastapi_pro.idempotency._errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyMissingError,
    IdempotencyKeyReusedError,
    InvalidIdempotencyKeyError,
)
from fastapi_pro.idempotency._key import fingerprint, parse_key
from fastapi_pro.idempotency._route import RESPONSE_KEY, IdempotentRoute, Replay
from fastapi_pro.idempotency._statements import RecordId, lookup, store
from fastapi_pro.settings import Settings

Identify = Callable[[Request], Awaitable[str | None]]
"""An async function naming the caller whose keys a request uses, or ``None`` when anonymous."""

MAX_KEY_LENGTH = 255
"""The longest key (and caller name) the records' table holds."""

REPLAY_HEADERS = (
    "content-type",
    "content-language",
    "location",
    "etag",
    "last-modified",
    "link",
)
"""The response headers stored with a record and replayed, beside its status and body."""


@dataclass(frozen=True, slots=True)
class IdempotencyOptions:
    """How keys are read, how long records live, and what a replay carries.

    Args:
        header: The request header holding the key.
        replayed_header: The response header (value ``true``) that marks a replay.
        ttl: How long a record is replayed; after it, the key counts as new.
        max_key_length: The longest key accepted (1 to 255).
        retry_after: Seconds a duplicate sent while the first runs is told to wait (409).
        replay_headers: The response headers stored and replayed (lower case).
        enabled: Whether keys are honoured; when not, every request runs and nothing is
            stored (and a required key is not asked for).

    Raises:
        ValueError: For a ``max_key_length`` outside 1 to 255, or a negative ``retry_after``.
    """

    header: str = "Idempotency-Key"
    replayed_header: str = "Idempotent-Replayed"
    ttl: timedelta = timedelta(hours=24)
    max_key_length: int = MAX_KEY_LENGTH
    retry_after: int = 1
    replay_headers: tuple[str, ...] = REPLAY_HEADERS
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.max_key_length <= MAX_KEY_LENGTH:
            msg = f"max_key_length must be 1 to {MAX_KEY_LENGTH}, not {self.max_key_length}."
            raise ValueError(msg)
        if self.retry_after < 0:
            msg = f"retry_after must be a whole number of seconds >= 0, not {self.retry_after}."
            raise ValueError(msg)

    @classmethod
    def from_settings(cls, settings: Settings) -> IdempotencyOptions:
        """The options of ``settings.idempotency`` (its ``table`` is `idempotency_table`'s)."""
        config = settings.idempotency
        return cls(
            header=config.header,
            replayed_header=config.replayed_header,
            ttl=config.ttl,
            max_key_length=config.max_key_length,
            retry_after=config.retry_after,
            replay_headers=tuple(name.lower() for name in config.replay_headers),
            enabled=config.enabled,
        )


class IdempotencyNotInstalledError(RuntimeError):
    """An `Idempotency` dependency is on a route that is not an `IdempotentRoute`."""


@dataclass(frozen=True, slots=True)
class _Keyed:
    record: RecordId
    fingerprint: str
    now: datetime


class Idempotency:
    """A ``yield`` dependency: a keyed request runs once, and its retries get its response.

    Use it with ``scope="function"`` (`idempotent` does) on a route of an `IdempotentRoute`
    router. A request with the key header looks its record up at entry, in the request's
    `SessionDep` unit of work; the response of a request that ran is stored at exit, in that
    same unit of work, so the record commits exactly when the endpoint's own writes do.

    Args:
        table: The records' table (`idempotency_table`).
        required: Whether a request without the key header is refused (400).
        identify: Names the caller (``None``: anonymous); keys are per caller. Anonymous
            callers, and every caller without ``identify``, are told apart by their address.
        options: Header names, expiry and replayed headers.
    """

    def __init__(
        self,
        table: Table,
        *,
        required: bool = False,
        identify: Identify | None = None,
        options: IdempotencyOptions | None = None,
    ) -> None:
        self.table = table
        self.required = required
        self.identify = identify
        self.options = options or IdempotencyOptions()
        problems: tuple[type[AppError], ...] = (
            InvalidIdempotencyKeyError,
            IdempotencyKeyReusedError,
            IdempotencyKeyInUseError,
        )
        declare_problems(*problems, *((IdempotencyKeyMissingError,) if required else ()))(self)

    async def __call__(self, request: Request, session: SessionDep) -> AsyncGenerator[None, None]:
        """Look the key up at entry (replay, 409 or 422), store the response at exit."""
        keyed = await self._keyed(request)
        if keyed is None:
            yield
            return
        await self._look_up(session, keyed)
        yield
        response = request.scope.get(RESPONSE_KEY)
        if isinstance(response, Response) and response.status_code < 500:  # noqa: PLR2004
            await self._store(session, keyed, response)

    async def _keyed(self, request: Request) -> _Keyed | None:
        if RESPONSE_KEY not in request.scope:
            msg = (
                f"The route {route_template(request)!r} uses Idempotency but is not an "
                "IdempotentRoute: give its router route_class=IdempotentRoute."
            )
            raise IdempotencyNotInstalledError(msg)
        raw = request.headers.get(self.options.header)
        if not self.options.enabled:
            return None
        if raw is None:
            if self.required:
                msg = f"This operation requires an {self.options.header} header."
                raise IdempotencyKeyMissingError(msg)
            return None
        key = parse_key(raw, self.options.max_key_length)
        return await self._describe(request, key)

    async def _describe(self, request: Request, key: str) -> _Keyed:
        route = route_template(request)
        query = request.scope.get("query_string", b"")
        target = request.scope.get("raw_path") or request.url.path.encode()
        print_ = fingerprint(request.method, route, target + b"?" + query, await request.body())
        record = RecordId(key, await self._caller(request), request.method, route)
        return _Keyed(record, print_, datetime.now(UTC))

    async def _caller(self, request: Request) -> str:
        name = await self.identify(request) if self.identify is not None else None
        if name is None:
            caller = "address:" + (request.client.host if request.client else "unknown")
        else:
            caller = "principal:" + name
        if len(caller) > MAX_KEY_LENGTH:  # the column's length: a long name is kept as a hash
            return "sha256:" + hashlib.sha256(caller.encode()).hexdigest()
        return caller

    async def _look_up(self, session: AsyncSession, keyed: _Keyed) -> None:
        dialect = session.get_bind().dialect.name
        statement = lookup(dialect, self.table, keyed.record, keyed.now)
        row = (await session.execute(statement)).first()
        if row is not None and not row.free:
            raise self._in_use()
        if row is not None and row.status is not None:
            if row.fingerprint != keyed.fingerprint:
                msg = f"This {self.options.header} was already used with another request."
                raise IdempotencyKeyReusedError(msg)
            raise Replay(self._replay(row))

    def _replay(self, row: Row[Any]) -> Response:
        headers = dict(json.loads(row.headers))
        headers[self.options.replayed_header] = "true"
        return Response(bytes(row.body), row.status, headers)

    async def _store(self, session: AsyncSession, keyed: _Keyed, response: Response) -> None:
        body = getattr(response, "body", None)
        if not isinstance(body, bytes | memoryview):
            msg = f"Idempotency cannot store a streamed response ({type(response).__name__})."
            raise TypeError(msg)
        values = self._values(keyed, response.status_code, response.headers, bytes(body))
        dialect = session.get_bind().dialect.name
        written = await session.execute(store(dialect, self.table, values, keyed.now))
        if written.first() is None:  # a live record committed meanwhile: undo the whole unit
            raise self._in_use()

    def _values(
        self, keyed: _Keyed, status: int, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        kept = {name: headers[name] for name in self.options.replay_headers if name in headers}
        return {
            "key": keyed.record.key,
            "principal": keyed.record.principal,
            "method": keyed.record.method,
            "route": keyed.record.route,
            "fingerprint": keyed.fingerprint,
            "status": status,
            "headers": json.dumps(kept),
            "body": body,
            "expires_at": keyed.now + self.options.ttl,
        }

    def _in_use(self) -> IdempotencyKeyInUseError:
        msg = f"A request with this {self.options.header} is still being processed."
        return IdempotencyKeyInUseError(msg, retry_after=self.options.retry_after)


def idempotent(
    table: Table,
    *,
    required: bool = False,
    identify: Identify | None = None,
    options: IdempotencyOptions | None = None,
) -> Any:
    """``Depends(Idempotency(...), scope="function")``, for a route's ``dependencies=[...]``.

    ```python
    @app.post("/orders", status_code=201, dependencies=[idempotent(records, required=True)])
    async def create_order(order: OrderIn, session: SessionDep) -> OrderOut: ...
    ```
    """
    dependency = Idempotency(table, required=required, identify=identify, options=options)
    return Depends(dependency, scope="function")


def check_idempotent_routes(app: FastAPI) -> None:
    """Refuse an app where a route uses `Idempotency` without being an `IdempotentRoute`.

    Call it once the routes are declared (or from the app's lifespan): a route that would
    fail at its first keyed request fails the start instead.

    Raises:
        IdempotencyNotInstalledError: Naming the first such route.
    """
    for context in iter_route_contexts(list(app.router.routes)):
        original = context.original_route
        if not isinstance(original, APIRoute) or isinstance(original, IdempotentRoute):
            continue
        if not _uses_idempotency(context.dependant):
            continue
        msg = (
            f"The route {context.path_format!r} uses Idempotency but is not an "
            "IdempotentRoute: give its router route_class=IdempotentRoute."
        )
        raise IdempotencyNotInstalledError(msg)


def _uses_idempotency(dependant: Any) -> bool:
    children: Iterable[Any] = dependant.dependencies
    return isinstance(dependant.call, Idempotency) or any(map(_uses_idempotency, children))
