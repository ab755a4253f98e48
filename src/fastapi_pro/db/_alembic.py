"""Alembic autogenerate support: fastapi-pro's column types written by their public names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from fastapi_pro.db._models import UTCDateTime

if TYPE_CHECKING:  # Alembic is the caller's dependency, not the library's
    from alembic.autogenerate.api import AutogenContext


def alembic_render_item(
    kind: str, item: object, autogen_context: AutogenContext
) -> str | Literal[False]:
    """Write fastapi-pro's column types into migrations by their public name, with the import.

    Without it, ``alembic revision --autogenerate`` writes a `UTCDateTime` column (every
    `Timestamps` column and every ``Mapped[datetime]`` on `Base`) under the module that defines
    it, ``fastapi_pro.db._models.UTCDateTime(timezone=True)``, and imports nothing, so the
    migration fails with a ``NameError``. With it, the migration says ``UTCDateTime()`` and
    imports it from ``fastapi_pro.db``. Pass it in ``migrations/env.py``:

    ```python
    context.configure(..., render_item=alembic_render_item)
    ```

    Args:
        kind: What Alembic renders (``"type"``, ``"column"``, ...).
        item: The object being rendered.
        autogen_context: Alembic's rendering context, which collects the migration's imports.

    Returns:
        The Python source of the type, or ``False`` to let Alembic render ``item`` its own way.
    """
    if kind == "type" and isinstance(item, UTCDateTime):
        autogen_context.imports.add("from fastapi_pro.db import UTCDateTime")
        return "UTCDateTime()"
    return False
