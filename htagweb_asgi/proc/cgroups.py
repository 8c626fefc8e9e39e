"""Where this process's cgroups are, whether we may create child cgroups with a memory limit
in them, and the few file operations that need (Linux only; elsewhere nothing is found).

cgroup v2 counts only where our cgroup is *delegated*: writable, with ``memory`` in its
``cgroup.subtree_control``. cgroup v1 counts where the memory hierarchy's cgroup of ours is
writable (as root, or delegated by chown). Each is proven by really creating (and removing)
a probe cgroup with its limit file written: permissions alone can lie (read-only mounts,
containers).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from htagweb_asgi.proc import osutil

PREFIX = "htagweb-"  # our cgroups: <own cgroup>/htagweb-<template pid>/u<N>


@dataclass(frozen=True)
class Found:
    """Our own cgroup directories where children can get a memory limit, and why the
    others were passed over (shown by ``ps`` and logged)."""

    v2: str | None
    v1: str | None
    notes: tuple[str, ...]


def read(path: str) -> str:
    with open(path) as file:
        return file.read()


def write(path: str, value: str) -> None:
    """One write(2), as the cgroup files want (no buffering split). O_CREAT changes nothing
    on a cgroup file system (it creates no file there) and lets tests use a plain tree."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def write_optional(path: str, value: str) -> None:
    """For files a kernel may lack (memory.swap.max without swap accounting...)."""
    with contextlib.suppress(OSError):
        write(path, value)


def read_int(path: str) -> int | None:
    try:
        return int(read(path).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def find(
    mountinfo: str = "/proc/self/mountinfo",
    own: str = "/proc/self/cgroup",
    probe: Callable[[str, str], str | None] | None = None,
) -> Found:
    """Look for a usable v2 and v1 memory cgroup of ours; tests give fake files and probe."""
    probe = probe or _probe
    notes: list[str] = []
    try:
        mounts = _mounts(mountinfo)
        ours = _own_cgroups(own)
    except OSError as exc:
        return Found(None, None, (f"cgroups: cannot read /proc: {exc.strerror}",))
    v2 = v1 = None
    for point in [point for fstype, options, point in mounts if fstype == "cgroup2"][:1]:
        directory = os.path.join(point, ours.get("", "/").lstrip("/"))
        v2 = _usable_v2(directory, notes, probe)
    if not any(fstype == "cgroup2" for fstype, _, _ in mounts):
        notes.append("cgroup2: not mounted")
    v1_points = [p for fstype, options, p in mounts if fstype == "cgroup" and "memory" in options]
    if not v1_points or "memory" not in ours:
        notes.append("cgroup1: no memory hierarchy")
    else:
        directory = os.path.join(v1_points[0], ours["memory"].lstrip("/"))
        problem = probe(directory, "memory.limit_in_bytes")
        if problem:
            notes.append(f"cgroup1: {problem}")
        else:
            v1 = directory
    return Found(v2, v1, tuple(notes))


def _usable_v2(
    directory: str, notes: list[str], probe: Callable[[str, str], str | None]
) -> str | None:
    try:
        controllers = read(os.path.join(directory, "cgroup.controllers")).split()
        subtree = read(os.path.join(directory, "cgroup.subtree_control")).split()
    except OSError as exc:
        notes.append(f"cgroup2: {directory}: {exc.strerror}")
        return None
    if "memory" not in controllers:
        notes.append(f"cgroup2: no memory controller in {directory}")
        return None
    if "memory" not in subtree:
        notes.append(f"cgroup2: memory not delegated in {directory} (cgroup.subtree_control)")
        return None
    problem = probe(directory, "memory.max")
    if problem:
        notes.append(f"cgroup2: {problem}")
        return None
    return directory


def _mounts(mountinfo: str) -> list[tuple[str, frozenset[str], str]]:
    """(fstype, super options, mount point) of each mount."""
    found = []
    for line in read(mountinfo).splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            found.append((tail[0], frozenset(tail[2].split(",")), point))
    return found


def _own_cgroups(path: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller: path}; the v2 line is under ""."""
    own: dict[str, str] = {}
    for line in read(path).splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                own[controller] = parts[2]
    return own


def _probe(directory: str, limit_file: str) -> str | None:
    """Create a child cgroup and write its limit; None when that works, else why not."""
    probe = os.path.join(directory, f"{PREFIX}probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except OSError as exc:
        return f"cannot create a cgroup in {directory}: {exc.strerror}"
    try:
        write(os.path.join(probe, limit_file), str(1 << 40))
        return None
    except OSError as exc:
        return f"{limit_file} not writable in {directory}: {exc.strerror}"
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


def pids_in(cgroup: str) -> list[int]:
    try:
        return [int(p) for p in read(os.path.join(cgroup, "cgroup.procs")).split()]
    except (OSError, ValueError):
        return []


def remove(cgroup: str, wait: float = 0.0) -> bool:
    """rmdir a cgroup of ours, SIGKILLing what is left in it (only our own descendants can
    be there); retry for `wait` seconds while they die. True when it is gone."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.rmdir(cgroup)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                return False
        for pid in pids_in(cgroup):
            with contextlib.suppress(ProcessLookupError):
                if sys.platform != "win32":  # cgroups are Linux's
                    os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)  # the kernel empties a cgroup asynchronously once its tasks exit


def oom_killed(cgroup: str, v2: bool) -> bool:
    """The kernel's OOM killer acted in `cgroup` (v2 memory.events, v1 memory.oom_control)."""
    name = "memory.events" if v2 else "memory.oom_control"
    try:
        lines = read(os.path.join(cgroup, name)).splitlines()
    except OSError:
        return False
    counts = dict(line.split(" ", 1) for line in lines if " " in line)
    if "oom_kill" in counts:
        return int(counts["oom_kill"]) > 0
    return bool(int(counts.get("under_oom", "0")))  # an old v1 kernel without the count


def remove_stale(own: str) -> None:
    """Our cgroups left by templates that died (htagweb-<pid> of a pid that is gone)."""
    for name in os.listdir(own):
        match = re.fullmatch(re.escape(PREFIX) + r"(\d+)", name)
        if match is None or osutil.pid_alive(int(match.group(1))):
            continue
        stale = os.path.join(own, name)
        for child in os.listdir(stale):
            if os.path.isdir(os.path.join(stale, child)):
                remove(os.path.join(stale, child))
        with contextlib.suppress(OSError):
            os.rmdir(stale)
