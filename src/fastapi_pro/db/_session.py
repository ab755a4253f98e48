"""`SessionDep`: one session per request, committed before the response is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.requests import HTTPConnection

from fastapi_pro.db._database import Database
from fastapi_pro.db._errors import (
    DatabaseUnavailableError,
    IntegrityViolationError,
    InvalidValueError,
    TransactionConflictError,
)
from fastapi_pro.errors import declare_problems


@declare_problems(
    DatabaseUnavailableError, TransactionConflictError, IntegrityViolationError, InvalidValueError
)
async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit when the endpoint returns, roll back when it raises.

    The commit runs before the response is sent (the dependency has ``scope="function"``), so a
    failed commit becomes a problem response (409 for a constraint, 503 when the database is
    unreachable) instead of a 2xx for a write that never happened. Database errors raised by
    the endpoint are translated the same way. The connection goes back to the pool even when
    the request is cancelled. Operations that use it document the 503 and 422 problems that
    any unit of work can end in; a 409 depends on what the endpoint writes, and is for the
    route to declare (`fastapi_pro.errors.problem_responses`). It is the request's one
    session (`Database.request_session`): a user loader that takes a session gets it too.
    """
    async with Database.of(connection).request_session(connection) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""The request's `AsyncSession`, shared by every dependency of the request.

Expands to ``Annotated[AsyncSession, Depends(get_session, scope="function")]``:

```python
@app.post("/orders")
async def create_order(order: OrderIn, session: SessionDep) -> OrderOut: ...
```

A dependency with ``yield`` that uses it must itself have ``scope="function"``.
"""


@declare_problems(DatabaseUnavailableError, TransactionConflictError, InvalidValueError)
async def get_read_connection(connection: HTTPConnection) -> AsyncIterator[AsyncConnection]:
    """Yield a connection for the request's reads (`Database.read`), released before the response.

    Operations that use it document the 503 problems a read can end in.
    """
    async with Database.of(connection).read() as read:
        yield read


ReadConnectionDep = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]
"""A pooled connection for Core reads, without an ORM session; nothing written through it stays.

Expands to ``Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]``:

```python
@app.get("/tags")
async def tags(db: ReadConnectionDep) -> dict[str, list[str]]:
    return {"tags": list(await db.scalars(select(Tag.name).order_by(Tag.name)))}
```

Its transaction is rolled back when the request's endpoint returns. Use `SessionDep` for
writes and wherever ORM objects are wanted.
"""
