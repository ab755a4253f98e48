"""The data layer: `Database`, `SessionDep`, models and mixins, `Repository`, pagination.

```python
from fastapi import FastAPI
from fastapi_pro.db import Base, Database, Repository, SessionDep, UUIDPrimaryKey

db = Database("sqlite+aiosqlite:///./app.db")
app = FastAPI(lifespan=db.lifespan)
```
"""

from fastapi_pro.db._alembic import alembic_render_item
from fastapi_pro.db._cursor import (
    CursorPage,
    CursorParams,
    InvalidCursorError,
    cursor_params,
    paginate_cursor,
)
from fastapi_pro.db._database import Database
from fastapi_pro.db._errors import (
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    IntegrityViolationError,
    InvalidValueError,
    StaleVersionError,
    TransactionConflictError,
    UniqueViolationError,
    retry_transaction,
    translate_error,
)
from fastapi_pro.db._guard import only_database
from fastapi_pro.db._models import (
    NAMING_CONVENTION,
    Base,
    BigIntPrimaryKey,
    SoftDelete,
    Timestamps,
    UTCDateTime,
    UUIDPrimaryKey,
    Versioned,
    utcnow,
)
from fastapi_pro.db._pagination import (
    CountStrategy,
    InvalidSortError,
    Page,
    PageParams,
    PageParamsDep,
    SortField,
    apply_sort,
    page_params,
    paginate,
    parse_sort,
    sort_params,
)
from fastapi_pro.db._pool_watch import PoolListener
from fastapi_pro.db._reads import ReadRepository
from fastapi_pro.db._repository import Repository
from fastapi_pro.db._session import (
    ReadConnectionDep,
    SessionDep,
    get_read_connection,
    get_session,
)
from fastapi_pro.db._soft_delete import INCLUDE_DELETED
from fastapi_pro.db._urls import async_url
from fastapi_pro.db._uuid7 import uuid7

__all__ = [
    "INCLUDE_DELETED",
    "NAMING_CONVENTION",
    "Base",
    "BigIntPrimaryKey",
    "CountStrategy",
    "CursorPage",
    "CursorParams",
    "Database",
    "DatabaseUnavailableError",
    "ForeignKeyViolationError",
    "IntegrityViolationError",
    "InvalidCursorError",
    "InvalidSortError",
    "InvalidValueError",
    "Page",
    "PageParams",
    "PageParamsDep",
    "PoolListener",
    "ReadConnectionDep",
    "ReadRepository",
    "Repository",
    "SessionDep",
    "SoftDelete",
    "SortField",
    "StaleVersionError",
    "Timestamps",
    "TransactionConflictError",
    "UTCDateTime",
    "UUIDPrimaryKey",
    "UniqueViolationError",
    "Versioned",
    "alembic_render_item",
    "apply_sort",
    "async_url",
    "cursor_params",
    "get_read_connection",
    "get_session",
    "only_database",
    "page_params",
    "paginate",
    "paginate_cursor",
    "parse_sort",
    "retry_transaction",
    "sort_params",
    "translate_error",
    "utcnow",
    "uuid7",
]
