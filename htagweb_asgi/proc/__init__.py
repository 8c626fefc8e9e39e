"""The process side: an App's template process and the user processes it forks.

Nothing here imports the worker side (``web/``), anyio or the session stores: a template
and its user processes load only what they need, and stay small and quick to fork.
"""
