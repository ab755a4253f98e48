"""The plugin's fixtures, one module per concept, each registered by the plugin as a plugin.

Fixtures of plugins are looked up after those of conftest files, whichever module defines them,
so a project's fixture of the same name wins. Importing these modules stays cheap: a fixture
imports what it needs when a test asks for it.
"""

from __future__ import annotations

# Each module, with the public fixtures it defines (a test checks that the two agree).
MODULES = {
    "fastapi_pro.testing._fixtures.app": ("fastapi_app", "fastapi_client"),
    "fastapi_pro.testing._fixtures.database": (
        "fastapi_database_url",
        "fastapi_database",
        "fastapi_session",
        "query_counter",
        "assert_max_queries",
    ),
    "fastapi_pro.testing._fixtures.auth": ("token_factory", "auth_headers", "act_as"),
    "fastapi_pro.testing._fixtures.observability": (
        "captured_spans",
        "captured_metrics",
        "captured_logs",
    ),
    "fastapi_pro.testing._fixtures.ratelimit": ("rate_limits",),
}

# Registered instead of MODULES when the `testing` extra is missing: the same fixtures, each
# failing with the command that installs the extra.
UNAVAILABLE = "fastapi_pro.testing._fixtures.unavailable"

FIXTURES = tuple(name for names in MODULES.values() for name in names)
