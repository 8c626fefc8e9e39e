"""Benchmarks: htagweb-asgi beside htagweb 1.0.0 and htag's in-process runner (the floor).

``python -m bench`` (or ``bash bench/run.sh``) runs every scenario; see bench/README.md.
Nothing here is imported by the package; the apps and hosts run in the servers under test.
"""
