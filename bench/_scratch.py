"""A scratch PostgreSQL database per benchmark run, made and dropped through an admin URL."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url


async def recreate_database(admin_url: str, name: str, *, drop_only: bool = False) -> str:
    """Drop database ``name`` on ``admin_url``'s server and, unless ``drop_only``, create it.

    Returns its asyncpg URL.
    """
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop_only:
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)
