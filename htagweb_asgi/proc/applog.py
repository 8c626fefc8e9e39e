"""An App's exceptions in the log: each kind once, then counted.

htag (1 and 2) logs a full traceback at ERROR for every interaction whose handler raises, and prints
the exception too. Any client can trigger that with a small message, as often as it likes:
~1 KB of log each, and the exception's text may quote what the client sent. Here the first
exception of a kind (its type and where it was raised) is logged, cut to a bounded size;
later ones are counted and reported at 10, 100, 1000... occurrences; beyond MAX_KINDS kinds
nothing more is logged. The App still gets its error reply each time.
"""

from __future__ import annotations

import importlib
import logging
import re

MAX_KINDS = 64
MAX_MESSAGE = 2000  # characters of the exception's text
MAX_TRACEBACK = 8000  # characters of the traceback (its end: where it was raised)
MAX_LINE = 300  # characters of one line of it
_WHERE = re.compile(r'File "([^"]*)", line (\d+)')


class ExceptionsOncePerKind(logging.Filter):
    """A filter for htag's "Exception %s:\\n%s" records (exception, traceback text)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        if _is_htag_exception(record):
            exc, trace = record.args  # type: ignore[misc]
            name, text, trace = type(exc).__name__, str(exc), str(trace)
        elif _is_htag2_exception(record):  # one preformatted text: "Error in ...: msg\ntrace"
            head, _, trace = record.getMessage().partition("\n")
            name, text = trace.rstrip().rpartition("\n")[2].partition(":")[0], head
            record.args = None
        else:
            return True
        places = _WHERE.findall(trace)
        kind = (name, ":".join(places[-1]) if places else "?")
        count = self.counts.get(kind, 0) + 1
        if count == 1 and len(self.counts) >= MAX_KINDS:
            return False
        self.counts[kind] = count
        if count == 1:
            record.msg = "the App raised %s: %s\n%s"
            record.args = (kind[0], _cut(text, MAX_MESSAGE), _tail(trace, MAX_TRACEBACK))
            if len(self.counts) == MAX_KINDS:
                record.msg += "\n(more kinds of exceptions will not be logged)"
            return True
        if _is_power_of_ten(count):
            record.msg = "the App raised %s at %s %d times (logged once)"
            record.args = (kind[0], kind[1], count)
            return True
        return False


def install() -> None:
    """Filter htag's loggers in this process (and the user processes it forks): htag 1's
    ``htag.render``, htag 2's ``htag``."""
    logging.getLogger("htag.render").addFilter(ExceptionsOncePerKind())
    logging.getLogger("htag").addFilter(ExceptionsOncePerKind())
    _silence_htag_prints()


def _silence_htag_prints() -> None:
    """htag also ``print()``s every exception it logs (htag 1 in htag.render, htag 2 in
    htag.runner): the log line is enough. Its module-level ``print`` is replaced; an App's own
    print() still reaches the server log."""
    for name in ("htag.render", "htag.runner"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # the other htag
            continue
        module.print = lambda *args, **kwargs: None  # type: ignore[attr-defined]


def _is_htag_exception(record: logging.LogRecord) -> bool:
    return (
        record.msg == "Exception %s:\n%s"
        and isinstance(record.args, tuple)
        and len(record.args) == 2
        and isinstance(record.args[0], BaseException)
    )


def _is_htag2_exception(record: logging.LogRecord) -> bool:
    """htag 2 logs a callback's (or a render's) exception as one text with its traceback."""
    text = record.msg if isinstance(record.msg, str) else ""
    return text.startswith("Error in") or text.startswith("Error during render")


def _is_power_of_ten(count: int) -> bool:
    while count % 10 == 0:
        count //= 10
    return count == 1


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _tail(text: str, limit: int) -> str:
    """The end of a traceback (where it was raised), each line cut: its last line repeats
    the exception's text."""
    text = "\n".join(_cut(line, MAX_LINE) for line in text.splitlines())
    return text if len(text) <= limit else f"…{text[-limit:]}"
