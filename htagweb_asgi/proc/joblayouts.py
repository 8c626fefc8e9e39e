"""The Windows Job Object structures and limits that jobobjects.py hands to kernel32.

Plain ctypes layouts (x64: what the unit tests check, on Linux, against Microsoft's
documented sizes) and the translation of memory_limit and cpu_limit into limit flags and
values: no call into Windows here, so every platform imports and tests it.
"""

from __future__ import annotations

import ctypes
import math

TICKS_PER_SECOND = 10_000_000  # the limits' and the accounting's unit: 100 ns
LIMIT_PROCESS_TIME = 0x0000_0002
LIMIT_PROCESS_MEMORY = 0x0000_0100
LIMIT_KILL_ON_JOB_CLOSE = 0x0000_2000
BASIC_ACCOUNTING = 1  # JOBOBJECTINFOCLASS: JobObjectBasicAccountingInformation
EXTENDED_LIMITS = 9  # JobObjectExtendedLimitInformation
ERROR_NOT_ENOUGH_QUOTA = 1816  # the exit status Windows documents for a job's time limit

_U32, _U64, _SIZE = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t  # DWORD, ULONGLONG, SIZE_T


class BasicLimits(ctypes.Structure):
    """JOBOBJECT_BASIC_LIMIT_INFORMATION."""

    _fields_ = (
        ("PerProcessUserTimeLimit", ctypes.c_int64),  # LARGE_INTEGER
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", _U32),
        ("MinimumWorkingSetSize", _SIZE),
        ("MaximumWorkingSetSize", _SIZE),
        ("ActiveProcessLimit", _U32),
        ("Affinity", _SIZE),  # ULONG_PTR
        ("PriorityClass", _U32),
        ("SchedulingClass", _U32),
    )


class IoCounters(ctypes.Structure):
    """IO_COUNTERS (reserved in the extended limits, but part of their layout)."""

    _fields_ = tuple(
        (name, _U64)
        for name in (
            "ReadOperationCount",
            "WriteOperationCount",
            "OtherOperationCount",
            "ReadTransferCount",
            "WriteTransferCount",
            "OtherTransferCount",
        )
    )


class ExtendedLimits(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION."""

    _fields_ = (
        ("BasicLimitInformation", BasicLimits),
        ("IoInfo", IoCounters),
        ("ProcessMemoryLimit", _SIZE),
        ("JobMemoryLimit", _SIZE),
        ("PeakProcessMemoryUsed", _SIZE),
        ("PeakJobMemoryUsed", _SIZE),
    )


class BasicAccounting(ctypes.Structure):
    """JOBOBJECT_BASIC_ACCOUNTING_INFORMATION."""

    _fields_ = (
        ("TotalUserTime", ctypes.c_int64),
        ("TotalKernelTime", ctypes.c_int64),
        ("ThisPeriodTotalUserTime", ctypes.c_int64),
        ("ThisPeriodTotalKernelTime", ctypes.c_int64),
        ("TotalPageFaultCount", _U32),
        ("TotalProcesses", _U32),
        ("ActiveProcesses", _U32),
        ("TotalTerminatedProcesses", _U32),  # ended by a limit of the job
    )


class MemoryCounters(ctypes.Structure):
    """PROCESS_MEMORY_COUNTERS_EX: PrivateUsage is the commit a job's memory limit counts."""

    _fields_ = (
        ("cb", _U32),
        ("PageFaultCount", _U32),
        *(
            (name, _SIZE)
            for name in (
                "PeakWorkingSetSize",
                "WorkingSetSize",
                "QuotaPeakPagedPoolUsage",
                "QuotaPagedPoolUsage",
                "QuotaPeakNonPagedPoolUsage",
                "QuotaNonPagedPoolUsage",
                "PagefileUsage",
                "PeakPagefileUsage",
                "PrivateUsage",
            )
        ),
    )


def template_limits(commit_ceiling: int | None) -> ExtendedLimits:
    """The template's job: kill its processes when it closes; with a ceiling, no process may
    commit more than `commit_ceiling` bytes (the template's own commit + memory_limit)."""
    limits = ExtendedLimits()
    limits.BasicLimitInformation.LimitFlags = LIMIT_KILL_ON_JOB_CLOSE
    if commit_ceiling is not None:
        limits.BasicLimitInformation.LimitFlags |= LIMIT_PROCESS_MEMORY
        limits.ProcessMemoryLimit = commit_ceiling
    return limits


def cpu_limits(used_seconds: float, budget: float) -> ExtendedLimits:
    """A process's own job: it may run `budget` more seconds of user-mode time than the
    `used_seconds` it has run so far (the job counts the process's whole user time)."""
    limits = ExtendedLimits()
    limits.BasicLimitInformation.LimitFlags = LIMIT_PROCESS_TIME
    ticks = math.ceil((used_seconds + budget) * TICKS_PER_SECOND)
    limits.BasicLimitInformation.PerProcessUserTimeLimit = ticks
    return limits
