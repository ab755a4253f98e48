"""Every code block of README.md and docs/ is run or checked by a test, so none can drift.

A python block is one of:

- an include (``--8<-- "docs/examples/x.py"``) of a file that a test named in `INCLUDED` runs;
- a file of a page that a test reads as a whole (`READ_AS_A_WHOLE`): the README, and the guides
  that tests/test_guides_as_typed.py types in an empty folder (blocks introduced with a file name);
- a block that another test runs, named in `ELSEWHERE` by its page and first line;
- a block that only runs inside a reader's project (a conftest, Alembic's env.py), listed with
  the reason in `NOT_RUN`;
- any other block: a fragment, run here. A page's fragments run in page order in one namespace, as
  a reader reads them, after the library's public names and what the page takes as given
  (`GIVEN`, `BEFORE`: objects its prose talks about but does not build).

So a new python block is run here unless it is listed, and a block that stops working fails.
TOML and JSON blocks are parsed here (or written by a test that reads the page as a whole); the
other languages are commands and outputs, checked where `OTHER` says.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from loguru import logger

from fastapi_pro import Settings, setup
from fastapi_pro.app import Switches
from tests.doc_pages import FENCE, ROOT, Block, code_blocks

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
INCLUDE_ONLY = re.compile(r'--8<-- "([^"]+)"')

READ_AS_A_WHOLE = {
    "README.md": "tests/test_readme.py",
    "docs/getting-started.md": "tests/test_guides_as_typed.py",
    "docs/testing.md": "tests/test_guides_as_typed.py",
    "docs/cli.md": "tests/test_guides_as_typed.py",
    "docs/tutorial.md": "tests/test_guides_as_typed.py",
}
"""Pages whose files (blocks introduced with a file name) a test writes and runs."""

INCLUDED = {
    "docs/examples/auth_app.py": "tests/test_docs.py",
    "docs/examples/auth_external_idp.py": "tests/test_docs.py",
    "docs/examples/auth_session_loader.py": "tests/test_docs.py",
    "docs/examples/db_app.py": "tests/test_docs.py",
    "docs/examples/db_feed.py": "tests/test_docs.py",
    "docs/examples/errors_app.py": "tests/test_docs.py",
    "docs/examples/existing_api.py": "tests/test_howtos.py",
    "docs/examples/health_app.py": "tests/test_health.py",
    "docs/examples/idempotency_app.py": "tests/idempotency/test_docs_example.py",
    "docs/examples/idempotency_client.py": "tests/idempotency/test_docs_example.py",
    "docs/examples/idp_users.py": "tests/test_howtos.py",
    "docs/examples/links_app.py": "tests/db/test_links_app.py",
    "docs/examples/migrated_users.py": "tests/test_howtos.py",
    "docs/examples/observability_app.py": "tests/test_docs.py",
    "docs/examples/ratelimit_app.py": "tests/ratelimit/test_docs_example.py",
    "docs/examples/self_hosted_docs_app.py": "tests/test_self_hosted_docs.py",
    "docs/examples/sessions_after.py": "tests/test_howtos.py",
    "docs/examples/settings_app.py": "tests/test_docs.py",
    "docs/examples/setup_app.py": "tests/test_docs.py",
    "docs/examples/testing_project/": "tests/test_docs_projects.py",
    "docs/examples/tutorial/": "tests/test_docs_projects.py",
}
"""Included files (or project folders), and the test module that loads and runs them."""

ELSEWHERE: dict[tuple[str, str], str] = {
    ("docs/setup.md", "from fastapi_pro.body_limit import install_body_limit"): (
        "tests/test_body_limit.py::test_the_docs_example"
    ),
    ("docs/auth.md", "from redis.asyncio import Redis"): (
        "tests/test_redis_settings.py::test_the_auth_pages_own_client_example"
    ),
    ("docs/setup.md", "setup("): "tests/test_doc_blocks.py::test_every_switch_is_a_parameter",
}
"""Blocks (page, first line) that another test runs, with that test (a name prefix)."""

NOT_RUN = {
    ("docs/how-to/migrate-from-hand-written-sessions.md", "@pytest.fixture"): (
        "the hand-written conftest the page replaces, shown as the thing not to do"
    ),
    ("docs/how-to/migrate-from-hand-written-sessions.md", "from sqlalchemy import select"): (
        "a test module of a reader's project (imports its main.py)"
    ),
    (
        "docs/how-to/postgresql-and-alembic.md",
        '"""Alembic\'s environment: the URL comes from Settings, the tables from the models."""',
    ): ("Alembic's env.py, run by Alembic inside a project"),
    (
        "docs/how-to/postgresql-and-alembic.md",
        "sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),",
    ): ("an excerpt of a generated migration"),
    ("docs/how-to/postgresql-and-alembic.md", "import asyncio"): (
        "a reader's tests/conftest.py (imports their project)"
    ),
    ("docs/how-to/postgresql-and-alembic.md", "from alembic import command"): (
        "a test of a reader's project (needs its alembic.ini)"
    ),
    ("docs/testing.md", "from collections.abc import AsyncIterator"): (
        "a reader's conftest.py (imports their project)"
    ),
    ("docs/how-to/external-identity-provider.md", "async def test_accountants_see_invoices("): (
        "a test of a reader's project, using the plugin's fixtures"
    ),
    ("docs/ratelimit.md", "@pytest.fixture(autouse=True)"): (
        "a reader's conftest.py, using the plugin's fixture"
    ),
}
"""Blocks that only run inside a reader's project, and why; every other block runs somewhere."""

OTHER = {
    "console": (
        "commands: typed by tests/test_guides_as_typed.py on the pages it reads; elsewhere the"
        " settings they export and the extras they install are checked here, and the README's"
        " gates are steps of .ci/run"
    ),
    "text": (
        "printed output, shown after the command that prints it; the layer drawing of"
        " docs/architecture.md, which tests/test_architecture.py compares with the import contracts"
    ),
    "promql": "queries over the metrics that tests/observability checks by name",
    "yaml": (
        "a Kubernetes probe excerpt naming the routes tests/test_health.py serves; the"
        " prometheus.yml of docs/dashboards.md, which tests/observability/test_rules.py checks"
        " with promtool"
    ),
}
"""Languages that are neither run nor parsed here, and what checks them."""


@dataclass(frozen=True)
class DocBlock:
    page: str
    line: int
    raw: str  # as written: an include is still ``--8<-- "..."``
    block: Block  # includes resolved

    @property
    def lang(self) -> str:
        return self.block.lang

    @property
    def included(self) -> str | None:
        found = INCLUDE_ONLY.fullmatch(self.raw.strip())
        return found.group(1) if found else None

    @property
    def key(self) -> tuple[str, str]:
        """How the lists of this module name a block: its page and first line."""
        return self.page, self.block.text.splitlines()[0]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def doc_blocks(page: Path) -> list[DocBlock]:
    text = page.read_text()
    name = str(page.relative_to(ROOT))
    return [
        DocBlock(name, text[: match.start()].count("\n") + 1, match.group(2), block)
        for match, block in zip(FENCE.finditer(text), code_blocks(page), strict=True)
    ]


BLOCKS = [block for page in PAGES for block in doc_blocks(page)]


def runner(block: DocBlock) -> str | None:
    """The test that runs ``block`` elsewhere; None for a fragment, run here."""
    if block.included is not None:
        return next((t for f, t in INCLUDED.items() if block.included.startswith(f)), "nothing")
    if block.page == "README.md" or (block.page in READ_AS_A_WHOLE and block.block.file_name):
        return READ_AS_A_WHOLE[block.page]
    if block.key in NOT_RUN:
        return "a reader's project"
    return ELSEWHERE.get(block.key)


def test_every_fence_is_read_by_the_extractor() -> None:
    """No python block hides from `code_blocks` (indented, or with options after the language)."""
    for page in PAGES:
        text = page.read_text()
        written = len(re.findall(r"^\s*```python", text, re.MULTILINE))
        read = sum(1 for block in doc_blocks(page) if block.lang == "python")
        assert written == read, f"{page}: {written} python blocks, {read} read"


def test_every_block_runner_exists() -> None:
    """Each test named as running a block exists, so a renamed test cannot orphan a block."""
    for block in BLOCKS:
        named = runner(block) if block.lang in {"python", "toml"} else None
        if named is None or block.key in NOT_RUN:
            continue
        module, _, prefix = named.partition("::")
        assert (ROOT / module).is_file(), f"{block}: {named} is not a test module"
        source = (ROOT / module).read_text()
        if block.included is not None:  # the module loads the example by its name
            name = Path(next(f for f in INCLUDED if block.included.startswith(f))).stem
            assert f'"{name}"' in source, f"{block}: {module} does not load {name!r}"
        assert f"def {prefix}" in source, f"{block}: no test {named}"


def test_every_included_file_exists() -> None:
    for block in BLOCKS:
        if block.included is not None:
            assert (ROOT / block.included).is_file(), f"{block} includes a missing file"


def test_every_language_is_checked() -> None:
    langs = {block.lang for block in BLOCKS} - {"python", "toml", "json"}
    assert langs <= set(OTHER), f"blocks in {langs - set(OTHER)}: say what checks them"


def test_every_exported_setting_exists() -> None:
    """``export FASTAPI_PRO_AUTH__SECRET_KEY=...`` names a `Settings` field (nested by ``__``)."""

    consoles = "\n".join(b.block.text for b in BLOCKS if b.lang == "console")
    names = re.findall(r"\bFASTAPI_PRO_(\w+)=", consoles)
    assert names
    for name in set(names) - {"TEST_DATABASE_URL"}:  # the pytest plugin's, not a setting
        model: Any = Settings
        for part in name.lower().split("__"):
            assert part in model.model_fields, f"FASTAPI_PRO_{name}: no setting {part!r}"
            model = model.model_fields[part].annotation


def test_every_extra_installed_exists() -> None:
    """``pip install "fastapi-pro[postgres]"`` names an extra the package declares."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(extras["optional-dependencies"])
    consoles = "\n".join(b.block.text for b in BLOCKS if b.lang == "console")
    named = {
        e for group in re.findall(r"fastapi-pro\[([\w,-]+)\]", consoles) for e in group.split(",")
    }
    assert named
    assert named <= declared


def test_the_readme_gates_are_steps_of_ci() -> None:
    """Each ``uv run`` command of the README's gates block is a step of .ci/run, as typed."""
    [gates] = [b for b in BLOCKS if b.page == "README.md" and "--fail-under" in b.block.text]
    commands = re.findall(r"^python3 -m uv run (.+)$", gates.block.text, re.MULTILINE)
    steps = re.findall(r"^uv run (.+)$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    assert commands
    assert set(commands) <= set(steps)


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.lang == "toml" and runner(b) is None], ids=str
)
def test_the_toml_block_parses(block: DocBlock) -> None:
    tomllib.loads(block.block.text)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "json"], ids=str)
def test_the_json_block_parses(block: DocBlock) -> None:
    text = re.sub(r'"[^"]*\.\.\."', '"x"', block.block.text)  # values shown cut short
    json.loads(text)


# -- fragments ---------------------------------------------------------------------------------

LIBRARY = """
from typing import Annotated, Any
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import MetaData, String, select
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_pro import *
from fastapi_pro.auth import *
from fastapi_pro.db import *
from fastapi_pro.errors import *
from fastapi_pro.health import *
from fastapi_pro.observability import *

app = FastAPI()
"""
"""The names every page takes as imported, and the app its fragments decorate."""

GIVEN = {
    "docs/idempotency.md": """
from fastapi_pro.idempotency import idempotency_table

records = idempotency_table(MetaData(), "idempotency_records")
""",
    "docs/auth.md": """
secret = "a-signing-key-of-more-than-thirty-two-bytes"
password = "correct horse battery staple"
stored_hash = await PasswordHasher.owasp_minimum().hash(password)
settings_pepper = "a-pepper-of-more-than-thirty-two-bytes-long"
store = InMemoryApiKeyStore()
""",
    "docs/db.md": """
class OrderIn(BaseModel):
    item: str
class OrderOut(OrderIn, from_attributes=True):
    id: UUID
class ProductOut(BaseModel, from_attributes=True):
    name: str
""",
    "docs/errors.md": """
order_id = 42
class Order(BaseModel):
    id: int
class Tenant(BaseModel):
    name: str
class TenantNotFoundError(NotFoundError):
    code = "tenant_not_found"
""",
    "docs/example.md": """
from examples.orders.modules.users.service import reload_principal, user_loader
settings = Settings(_env_file=None, auth={"secret_key": "a" * 32})
database = Database("sqlite+aiosqlite://")
hasher = PasswordHasher.owasp_minimum()
""",
    "docs/health.md": """
from redis.asyncio import Redis
db = Database("sqlite+aiosqlite://")
redis_client = Redis.from_url("redis://localhost:6379/0")
async def payments_reachable() -> bool:
    return True
class Queue:
    async def size(self) -> int:
        return 12_000
queue = Queue()
""",
    "docs/how-to/migrate-from-hand-written-sessions.md": """
from fastapi import HTTPException
from httpx import ASGITransport, AsyncClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
DATABASE_URL = "sqlite+aiosqlite://"
class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)
""",
    "docs/how-to/postgresql-and-alembic.md": """
settings = Settings(_env_file=None)
""",
    "docs/logging.md": """
settings = Settings(_env_file=None)
""",
    "docs/metrics.md": """
scrape_token = "a-scrape-token"
""",
    "docs/setup.md": """
import httpx
from asgi_lifespan import LifespanManager
""",
    "docs/tracing.md": """
db = Database("sqlite+aiosqlite://")
""",
}
"""Per page, what its fragments take as given: objects the prose names but does not build."""

BEFORE = {
    ("docs/db.md", "ProductSort = Annotated["): """
class Product(BigIntPrimaryKey, Base):
    __tablename__ = "products"
    name: Mapped[str]
    price: Mapped[int]
class ProductRepository(Repository[Product]):
    pass
Products = Annotated[ProductRepository, Depends()]
""",
    ("docs/db.md", "await orders.update("): """
db = Database("sqlite+aiosqlite://")
await db.create_all(Base.metadata)
session = db.sessionmaker()
orders = OrderRepository(session)
order_id = (await orders.add(Order(customer_id=uuid7()))).id
class Body(BaseModel):
    version: int
body = Body(version=1)
""",
    ("docs/how-to/migrate-from-hand-written-sessions.md", "try:"): """
db = SessionLocal()
await db.run_sync(lambda s: Base.metadata.create_all(s.connection()))
email = "ann@example.com"
""",
    ("docs/setup.md", "from fastapi_pro.security_headers import install_security_headers"): (
        "app = FastAPI()"
    ),
    ("docs/setup.md", "from fastapi_pro.self_hosted_docs import install_self_hosted_docs"): (
        "app = FastAPI()"
    ),
}
"""What a block (page, start of its first line) takes as given that its page does not build."""

AFTER = {
    "docs/db.md": "await session.close(); await db.dispose()",
    "docs/how-to/migrate-from-hand-written-sessions.md": "await db.close(); await engine.dispose()",
    "docs/logging.md": "reset_logging()",
    "docs/setup.md": "reset_logging()",
    "docs/tracing.md": "tracing.shutdown()",
    "docs/health.md": "await redis_client.aclose(); await db.dispose()",
}
"""What a page's fragments leave behind that the rest of the run must not inherit."""


def fragments(page: str) -> list[DocBlock]:
    return [b for b in BLOCKS if b.page == page and b.lang == "python" and runner(b) is None]


def before(block: DocBlock) -> str:
    page, first = block.key
    return next((code for (p, f), code in BEFORE.items() if p == page and first.startswith(f)), "")


def reset_logging() -> None:
    """Undo `configure_logging`: loguru's sinks and the standard library's root handlers."""
    logger.remove()
    logging.basicConfig(handlers=[], force=True)
    logging.getLogger("uvicorn.access").disabled = False


@pytest.mark.parametrize(
    "page", sorted({b.page for b in BLOCKS if b.lang == "python" and runner(b) is None})
)
async def test_the_pages_fragments_run_in_order(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    module = ModuleType("docs_" + re.sub(r"\W", "_", page.removesuffix(".md")))
    monkeypatch.setitem(sys.modules, module.__name__, module)  # SQLAlchemy resolves through it
    namespace = module.__dict__
    exec(LIBRARY, namespace)  # noqa: S102 - the docs' own code
    exec(_fresh_base(), namespace)  # noqa: S102
    namespace["reset_logging"] = reset_logging
    await run(GIVEN.get(page, ""), f"{page} (given)", namespace)
    try:
        for block in fragments(page):
            await run(before(block), f"{block} (given)", namespace)
            await run_fragment(block, namespace)
    finally:
        await run(AFTER.get(page, ""), f"{page} (after)", namespace)


async def run_fragment(block: DocBlock, namespace: dict[str, Any]) -> None:
    """Run one fragment; one that ends by raising an error must raise it there."""
    last = ast.parse(block.block.text).body[-1]
    if not isinstance(last, ast.Raise):
        await run(block.block.text, str(block), namespace)
        return
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the class the block raises
        await run(block.block.text, str(block), namespace)
    assert raised.traceback[-1].lineno + 1 == last.lineno, f"{block} failed before its raise"


async def run(code: str, name: str, namespace: dict[str, Any]) -> None:
    """Run ``code`` as a module body in which ``await`` may appear at the top level."""
    compiled = compile(code, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)  # noqa: S307 - the docs' own code
    if result is not None:
        await result


def _fresh_base() -> str:
    """A ``Base`` of the page's own: its tables cannot clash with another page's."""
    return (
        "import fastapi_pro.db\n"
        "class Base(fastapi_pro.db.Base):\n"
        "    __abstract__ = True\n"
        "    metadata = MetaData(naming_convention=NAMING_CONVENTION)\n"
    )


def test_every_switch_is_a_parameter() -> None:
    """docs/setup.md's "Every switch" lists `setup`'s parameters and `Switches`, in order."""
    (block,) = (b for b in BLOCKS if runner(b) == ELSEWHERE[("docs/setup.md", "setup(")])
    shown = re.findall(r"^    (\w+)", block.block.text, re.MULTILINE)
    assert shown == ["app", "settings", *Switches.__annotations__]
    assert list(inspect.signature(setup).parameters) == ["app", "settings", "switches"]
