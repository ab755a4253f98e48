"""``python -m fastapi_pro.cli``: the ``fastapi-pro`` command."""

import sys

from fastapi_pro.cli._main import main

sys.exit(main())
