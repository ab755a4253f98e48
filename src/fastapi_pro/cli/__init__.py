"""The ``fastapi-pro`` command.

```console
$ fastapi-pro demo                 # seed and serve the orders example on SQLite
$ fastapi-pro new my-service       # generate a service in ./my-service
$ fastapi-pro observability export # write the Grafana dashboard and Prometheus rules
```

Only the standard library is loaded until a subcommand runs, so ``--help`` and argument
errors are instant and never need an optional extra. Mistakes in the arguments exit with
status 2, a command that cannot go on exits with status 1, each with a one-line message and
no traceback.
"""

from fastapi_pro.cli._errors import CommandError
from fastapi_pro.cli._main import build_parser, main

__all__ = ["CommandError", "build_parser", "main"]
