"""The plugin's fixtures when the ``testing`` extra is missing: each fails naming the extra."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_pro.testing._extras import first_missing, missing_extra_message
from fastapi_pro.testing._fixtures import FIXTURES

_MISSING = first_missing()


def _unavailable(*_: Any) -> Any:
    pytest.fail(missing_extra_message(str(_MISSING)), pytrace=False)


for _name in FIXTURES:
    globals()[_name] = pytest.fixture(name=_name)(_unavailable)
