"""The base class of the errors this package raises on purpose.

``except HtagwebError`` catches every failure the package reports (a bad App reference, an
unusable runtime directory, an unreachable process, a refused message...), and nothing else:
a bug of ours still surfaces as the built-in exception it is. Each subclass is defined
next to the code that raises it, with a docstring that says who raises it and when.
"""

from __future__ import annotations


class HtagwebError(Exception):
    """Base of every exception htagweb-asgi raises on purpose."""
