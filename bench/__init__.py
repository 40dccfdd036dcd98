"""Benchmarks: `offload bench` lists them, `offload bench NAME` runs one.

Each is a module here with a `main()` that prints one JSON object on its last line;
docs/benchmarks.md documents every key and the command that reproduces it.
"""


def setup_django() -> None:
    """Django for a benchmark run as `python -m bench.NAME` (settings from the env)."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
