"""The default max_processes: the memory available, divided by a measured user process."""

from __future__ import annotations

from pathlib import Path

import pytest

from htagweb_asgi.proc import capacity

MIB = 1 << 20


def test_half_the_available_memory_over_what_a_used_process_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capacity, "available_memory", lambda: (8000 * MIB, "MemAvailable"))
    found = capacity.size(4 * MIB)  # a warm spare's USS; x1.5 for a used App
    assert found.per_process == 6 * MIB
    assert found.max_processes == 4000 * MIB // (6 * MIB) == 666
    said = found.describe()
    assert said.startswith("666: 50% of 8000.0 MiB available (MemAvailable) / 6.0 MiB")
    assert "measured at 4.0 MiB" in said


def test_bounds_and_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capacity, "available_memory", lambda: (10 * MIB, "cgroup v2 limit"))
    assert capacity.size(4 * MIB).max_processes == capacity.MIN_PROCESSES
    monkeypatch.setattr(capacity, "available_memory", lambda: (1 << 50, "MemAvailable"))
    assert capacity.size(4 * MIB).max_processes == capacity.MAX_PROCESSES
    assert capacity.size(None).per_process == capacity.FALLBACK_PROCESS  # not measured
    monkeypatch.setattr(capacity, "available_memory", lambda: None)
    unknown = capacity.size(4 * MIB)
    assert unknown.max_processes == capacity.FALLBACK_MAX and "unknown" in unknown.describe()


def test_a_cgroup_limit_counts_not_the_hosts_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    v2.mkdir()
    v1.mkdir()
    (v2 / "memory.max").write_text("max\n")  # no limit at this level
    (v1 / "memory.limit_in_bytes").write_text(f"{512 * MIB}\n")
    (v1 / "memory.usage_in_bytes").write_text(f"{112 * MIB}\n")
    paths = [(2, str(v2)), (1, str(v1))]
    monkeypatch.setattr(capacity, "_cgroup_paths", lambda: paths)
    monkeypatch.setattr(capacity, "_meminfo_available", lambda: 64 << 30)
    assert capacity.available_memory() == (400 * MIB, "cgroup v1 limit")
    monkeypatch.setattr(capacity, "_meminfo_available", lambda: 100 * MIB)
    assert capacity.available_memory() == (100 * MIB, "MemAvailable")


def test_this_machine_says_something() -> None:
    """Linux has MemAvailable: the figures are real, whatever they are here."""
    found = capacity.available_memory()
    assert found is not None and found[0] > 0
