"""The `offload` console script: Offload's management commands under one name.

`offload migrate`, `offload demo`, `offload serve`, `offload worker`,
`offload audit verify`, `offload bench NAME`, and every other Django command.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["offload", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
