"""Read a server's log for what must not be there: tracebacks, errors of the package.

The workers log through LOG_CONFIG (uvicorn ``--log-config``) in the shape the template and
user processes use (proc/osutil.LOG_FORMAT), so every record says its process, level and
logger. A record's continuation lines (a traceback) belong to it; a line that belongs to no
record was written around logging (an unraisable exception, a warning, a crash).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s worker[%(process)d] %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"uvicorn.access": {"level": "WARNING"}},
}
_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:,]+ (?P<process>worker|htagweb-asgi)\[\d+\] "
    r"(?P<level>[A-Z]+) (?P<name>\S+): "
)
# Expected noise: what the App itself raises (logged once per kind by proc/applog.py).
_APP_EXCEPTIONS = "htag.render"
# uvicorn's websockets-sansio logs this at ERROR after every websocket denial response
# (0.54; fixed by its PR #3138): one per denial is the server's, any more would be ours.
_INCOMPLETE = "ASGI callable returned without completing handshake."
_DENIED = ": connection rejected ("  # "... INFO uvicorn.error: connection rejected (404 Not Found)"


def write_config(directory: Path) -> Path:
    path = directory / "fuzz-log-config.json"
    path.write_text(json.dumps(LOG_CONFIG))
    return path


@dataclass
class Record:
    process: str  # "worker" (the server's), "htagweb-asgi" (a template or user process)
    level: str
    name: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def records(log: str) -> tuple[list[Record], list[str]]:
    """The log's records, and the lines outside any record (before the first one)."""
    found: list[Record] = []
    stray: list[str] = []
    for line in log.splitlines():
        match = _RECORD.match(line)
        if match:
            found.append(Record(match["process"], match["level"], match["name"], [line]))
        elif found and _continues(found[-1], line):
            found[-1].lines.append(line)
        elif line.strip():
            stray.append(line)
    return found, stray


def _continues(record: Record, line: str) -> bool:
    """Whether `line` belongs to `record`: a traceback's lines, and its last one."""
    if line.startswith((" ", "\t", "Traceback", "During handling")):
        return True
    return record.lines[-1].startswith(" ")  # the exception, after the traceback's lines


def problems(log: str) -> tuple[list[str], list[str]]:
    """What the package is to blame for: its warnings and errors, any error or traceback of
    its own processes or through its code, the server's complaints about the ASGI app,
    stray lines naming it; and, apart, the server's own errors (its parser's, say).

    The App's exceptions (logger htag.render) are left out: logged once per kind, bounded.
    """
    found, stray = records(log)
    ours, servers = [], []
    denials = sum(_DENIED in record.lines[0] for record in found)
    for record in found:
        if record.lines[0].endswith(_INCOMPLETE) and denials > 0:
            denials -= 1  # uvicorn's false alarm after a denial response (uvicorn PR #3138)
            servers.append(record.text)
            continue
        blame = _blame(record)
        if blame == "ours":
            ours.append(record.text)
        elif blame == "server":
            servers.append(record.text)
    for line in stray:
        if "htagweb_asgi/" in line:
            ours.append(line)
        elif re.search(r"Traceback|Error|Exception|Warning", line):
            servers.append(line)
    return ours, servers


def _blame(record: Record) -> str | None:
    if record.name == _APP_EXCEPTIONS:
        return None
    serious = "Traceback" in record.text or record.level in ("ERROR", "CRITICAL")
    if record.name.startswith("htagweb_asgi") and record.level not in ("INFO", "DEBUG"):
        return "ours"
    if serious and (record.process == "htagweb-asgi" or "htagweb_asgi/" in record.text):
        return "ours"
    if serious and "ASGI" in record.lines[0]:  # the server says the app misbehaved
        return "ours"
    return "server" if serious else None
