"""Give a registered user the admin role: ``python -m bookmarks.make_admin EMAIL``."""

import asyncio
import sys

from fastapi_pro import Settings
from fastapi_pro.db import Database

from bookmarks.models import Users


async def make_admin(email: str) -> bool:
    """Mark the user with this email as an admin; False when no such user exists."""
    database = Database.from_settings(Settings().database)  # the app's database, from .env
    try:
        async with database.session() as session:  # commits at the end of the block
            found = await Users(session).update_many({"is_admin": True}, email=email)
    finally:
        await database.dispose()
    return found == 1


if __name__ == "__main__":
    if len(sys.argv) != 2:  # noqa: PLR2004 - the program and one email
        sys.exit("usage: python -m bookmarks.make_admin EMAIL")
    if not asyncio.run(make_admin(sys.argv[1])):
        sys.exit(f"No user has the email {sys.argv[1]!r}: register it first.")
    print(f"{sys.argv[1]} is an admin now; the role reaches their tokens at their next login.")
