"""Production building blocks for FastAPI services.

Each block lives in its own subpackage (``fastapi_pro.errors``, ...) and works with a plain
``FastAPI()`` app. Importing this package starts no threads and opens no connections.
"""

from fastapi_pro.__about__ import __version__
from fastapi_pro.settings import Settings

__all__ = ["Settings", "__version__"]
