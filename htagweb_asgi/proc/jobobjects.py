"""Windows Job Objects through ctypes (kernel32): how limiter.py limits user processes there.

Two kinds of job (Windows 8 and later nest them; a process obeys every job of its chain):

- the template's job, one per template, whose handle only the template holds:
  ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`` (the system ends every user process when the
  template's last handle closes, however the template ended: no orphans) and, with
  memory_limit, ``JOB_OBJECT_LIMIT_PROCESS_MEMORY`` (a commit past it fails: MemoryError);
- with cpu_limit, a job per user process, nested in it, holding
  ``JOB_OBJECT_LIMIT_PROCESS_TIME``; the process gets a handle to it (and to it only: it
  cannot lift its memory limit) and moves its ceiling at each interaction, as it re-arms
  RLIMIT_CPU on POSIX. Past it the system terminates the process.

The structures and the limits are joblayouts.py's. Everything here exists on Windows
only, and kernel32 is loaded at the first call, not at import: **never run on a real
Windows machine here** (type-checked with ``mypy --platform win32``).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

from htagweb_asgi.proc.joblayouts import (
    BASIC_ACCOUNTING,
    EXTENDED_LIMITS,
    BasicAccounting,
    ExtendedLimits,
    MemoryCounters,
)

JOB_SET_ATTRIBUTES, JOB_QUERY = 0x0002, 0x0004  # all a user process may do with its own job
PROCESS_SET_QUOTA_AND_TERMINATE = 0x0100 | 0x0001  # what AssignProcessToJobObject needs
PROCESS_DUP_HANDLE = 0x0040
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
STILL_ACTIVE = 259  # the exit code of a process that has not exited

if sys.platform == "win32":
    from ctypes import wintypes

    @functools.cache
    def _kernel32() -> Any:
        """kernel32, its functions typed: handles are pointer-sized, and ctypes' default
        (a C int) would truncate them on 64-bit Windows."""
        dll = ctypes.WinDLL("kernel32", use_last_error=True)
        handle, boolean, dword, pointer = (
            wintypes.HANDLE,
            wintypes.BOOL,
            wintypes.DWORD,
            ctypes.c_void_p,
        )
        signatures = {
            "CreateJobObjectW": (handle, (pointer, wintypes.LPCWSTR)),
            "SetInformationJobObject": (boolean, (handle, ctypes.c_int, pointer, dword)),
            "QueryInformationJobObject": (
                boolean,
                (handle, ctypes.c_int, pointer, dword, pointer),
            ),
            "AssignProcessToJobObject": (boolean, (handle, handle)),
            "OpenProcess": (handle, (dword, boolean, dword)),
            "GetCurrentProcess": (handle, ()),
            "DuplicateHandle": (
                boolean,
                (handle, handle, handle, ctypes.POINTER(handle), dword, boolean, dword),
            ),
            "K32GetProcessMemoryInfo": (boolean, (handle, pointer, dword)),
            "GetExitCodeProcess": (boolean, (handle, ctypes.POINTER(dword))),
            "CloseHandle": (boolean, (handle,)),
        }
        for name, (restype, argtypes) in signatures.items():
            getattr(dll, name).restype = restype
            getattr(dll, name).argtypes = argtypes
        return dll

    def process_alive(pid: int) -> bool:
        """Whether process `pid` exists and has not exited (osutil.pid_alive on Windows)."""
        kernel32 = _kernel32()
        handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return False
        try:
            code = wintypes.DWORD()
            known = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(known) and code.value == STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)

    def _check(result: Any) -> int:
        """A handle, or a BOOL that must be true; else the OSError of GetLastError."""
        if not result:
            raise ctypes.WinError(ctypes.get_last_error())
        return int(result)

    def create(limits: ExtendedLimits) -> int:
        """A new job with `limits`; OSError when Windows refuses."""
        job = _check(_kernel32().CreateJobObjectW(None, None))
        try:
            set_limits(job, limits)
        except OSError:
            close(job)
            raise
        return job

    def set_limits(job: int, limits: ExtendedLimits) -> None:
        """Replace `job`'s limits (the template's at its start, a process's at each
        interaction)."""
        size = ctypes.sizeof(limits)
        _check(
            _kernel32().SetInformationJobObject(job, EXTENDED_LIMITS, ctypes.byref(limits), size)
        )

    def assign(job: int, pid: int) -> None:
        """Put process `pid` in `job`. Our child: its Popen holds a handle to it, so `pid`
        cannot name another process meanwhile."""
        process = _check(_kernel32().OpenProcess(PROCESS_SET_QUOTA_AND_TERMINATE, False, pid))
        try:
            _check(_kernel32().AssignProcessToJobObject(job, process))
        finally:
            close(process)

    def share(job: int, pid: int) -> int:
        """A handle to `job` inside process `pid` (its value there), that may only set and
        query the job's limits."""
        process = _check(_kernel32().OpenProcess(PROCESS_DUP_HANDLE, False, pid))
        theirs = wintypes.HANDLE()
        try:
            current = _kernel32().GetCurrentProcess()
            rights = JOB_SET_ATTRIBUTES | JOB_QUERY
            _check(
                _kernel32().DuplicateHandle(
                    current, job, process, ctypes.byref(theirs), rights, False, 0
                )
            )
        finally:
            close(process)
        return int(theirs.value or 0)

    def terminated_by_limit(job: int) -> int:
        """How many processes of `job` one of its limits has ended (its accounting)."""
        counts = BasicAccounting()
        size = ctypes.sizeof(counts)
        query = _kernel32().QueryInformationJobObject
        _check(query(job, BASIC_ACCOUNTING, ctypes.byref(counts), size, None))
        return int(counts.TotalTerminatedProcesses)

    def own_commit() -> int:
        """Bytes this process has committed (its PrivateUsage: what a memory limit counts)."""
        counters = MemoryCounters()
        counters.cb = ctypes.sizeof(counters)
        current = _kernel32().GetCurrentProcess()
        _check(_kernel32().K32GetProcessMemoryInfo(current, ctypes.byref(counters), counters.cb))
        return int(counters.PrivateUsage)

    def close(handle: int) -> None:
        _kernel32().CloseHandle(handle)
