"""Benchmarks: `offload bench` lists them, `offload bench NAME` runs one.

Each is a module here with a `main()` that prints one JSON object on its last line;
docs/benchmarks.md documents every key and the command that reproduces it.
"""
