"""The Job Object structures as Windows x64 reads them, checked here on Linux x64: their
sizes and field offsets follow from the declarations Microsoft documents (winnt.h, psapi.h)
and the x64 alignment rules; and memory_limit and cpu_limit as the bytes of the limits."""

from __future__ import annotations

import ctypes

import pytest

from htagweb_asgi.proc import joblayouts as layouts

pytestmark = pytest.mark.skipif(
    ctypes.sizeof(ctypes.c_void_p) != 8, reason="the documented layouts checked are x64's"
)

# (structure, its size, {field: (offset, size)}) on x64: 8-byte LARGE_INTEGER/SIZE_T/ULONG_PTR
# aligned on 8, 4-byte DWORD on 4, so a DWORD followed by a SIZE_T leaves 4 bytes of padding.
DOCUMENTED = [
    (
        layouts.BasicLimits,  # JOBOBJECT_BASIC_LIMIT_INFORMATION
        64,
        {
            "PerProcessUserTimeLimit": (0, 8),
            "PerJobUserTimeLimit": (8, 8),
            "LimitFlags": (16, 4),
            "MinimumWorkingSetSize": (24, 8),  # after 4 bytes of padding
            "MaximumWorkingSetSize": (32, 8),
            "ActiveProcessLimit": (40, 4),
            "Affinity": (48, 8),  # after 4 bytes of padding
            "PriorityClass": (56, 4),
            "SchedulingClass": (60, 4),
        },
    ),
    (layouts.IoCounters, 48, {"ReadOperationCount": (0, 8), "OtherTransferCount": (40, 8)}),
    (
        layouts.ExtendedLimits,  # JOBOBJECT_EXTENDED_LIMIT_INFORMATION
        144,
        {
            "BasicLimitInformation": (0, 64),
            "IoInfo": (64, 48),
            "ProcessMemoryLimit": (112, 8),
            "JobMemoryLimit": (120, 8),
            "PeakProcessMemoryUsed": (128, 8),
            "PeakJobMemoryUsed": (136, 8),
        },
    ),
    (
        layouts.BasicAccounting,  # JOBOBJECT_BASIC_ACCOUNTING_INFORMATION
        48,
        {
            "TotalUserTime": (0, 8),
            "ThisPeriodTotalKernelTime": (24, 8),
            "TotalPageFaultCount": (32, 4),
            "TotalTerminatedProcesses": (44, 4),
        },
    ),
    (
        layouts.MemoryCounters,  # PROCESS_MEMORY_COUNTERS_EX
        80,
        {
            "cb": (0, 4),
            "PageFaultCount": (4, 4),
            "PeakWorkingSetSize": (8, 8),
            "PrivateUsage": (72, 8),
        },
    ),
]


@pytest.mark.parametrize(("structure", "size", "fields"), DOCUMENTED)
def test_the_structures_have_the_documented_x64_layout(
    structure: type[ctypes.Structure], size: int, fields: dict[str, tuple[int, int]]
) -> None:
    assert ctypes.sizeof(structure) == size
    for name, (offset, width) in fields.items():
        assert (getattr(structure, name).offset, getattr(structure, name).size) == (offset, width)


def field(limits: ctypes.Structure, offset: int, size: int) -> int:
    """The little-endian integer Windows reads at `offset`."""
    return int.from_bytes(bytes(limits)[offset : offset + size], "little")


def test_the_templates_job_kills_on_close_and_caps_each_process_commit() -> None:
    alone = layouts.template_limits(None)
    assert field(alone, 16, 4) == layouts.LIMIT_KILL_ON_JOB_CLOSE == 0x2000
    assert field(alone, 112, 8) == 0  # no ProcessMemoryLimit
    capped = layouts.template_limits(300 << 20)
    assert field(capped, 16, 4) == 0x2000 | 0x100  # + JOB_OBJECT_LIMIT_PROCESS_MEMORY
    assert field(capped, 112, 8) == 300 << 20
    assert field(capped, 0, 8) == 0  # no time limit in the template's job


def test_a_processs_own_job_moves_its_user_time_ceiling_by_cpu_limit() -> None:
    limits = layouts.cpu_limits(used_seconds=1.25, budget=2.0)
    assert field(limits, 16, 4) == layouts.LIMIT_PROCESS_TIME == 0x2
    assert field(limits, 0, 8) == 32_500_000  # PerProcessUserTimeLimit, in 100 ns ticks
    assert field(limits, 112, 8) == 0  # its memory limit is the template's job's
    # rounded up: never a tick less than the budget
    assert layouts.cpu_limits(0, 1e-8).BasicLimitInformation.PerProcessUserTimeLimit == 1
