"""Limits without processes: sizes, the choice of a mechanism on fake cgroup trees (cgroup v2
included, which this machine lacks), placements, and how a death is classified."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from htagweb_asgi.options import AppOptions, TemplateSettings, parse_size
from htagweb_asgi.proc import cgroups, childlimits
from htagweb_asgi.proc.deaths import Deaths
from htagweb_asgi.proc.joblayouts import ERROR_NOT_ENOUGH_QUOTA
from htagweb_asgi.proc.limiter import EXIT_MEMORY, Limiter, LimitsUnavailable
from htagweb_asgi.protocol.frames import FrameDecoder, Kind


@pytest.mark.parametrize(
    ("given", "size"),
    [("256M", 256 << 20), ("1.5G", 3 << 29), ("512k", 512 << 10), ("2GiB", 2 << 30), (10, 10)],
)
def test_sizes(given: int | str, size: int) -> None:
    assert parse_size(given) == size
    assert AppOptions(memory_limit=given).memory_limit == size


@pytest.mark.parametrize("given", ["", "256X", "-1M", "0", 0, True, 1.5])
def test_bad_sizes_are_refused(given: object) -> None:
    with pytest.raises(ValueError):
        AppOptions(memory_limit=given)  # type: ignore[arg-type]


def test_bad_limits_and_graces_are_refused() -> None:
    for bad in ({"cpu_limit": 0}, {"cpu_limit": float("inf")}):
        with pytest.raises(ValueError):
            AppOptions(**bad)
    with pytest.raises(ValueError):
        TemplateSettings(restart_grace=-1)
    with pytest.raises(ValueError):
        TemplateSettings(limit_mechanism="magic")


def fake_tree(tmp_path: Path, v2_controllers: str, v2_subtree: str) -> tuple[str, str, Path]:
    """A mountinfo and /proc/self/cgroup naming cgroup dirs under tmp_path."""
    v2, v1 = tmp_path / "unified" / "me", tmp_path / "memory" / "me"
    for directory in (v2, v1):
        directory.mkdir(parents=True)
    (v2 / "cgroup.controllers").write_text(v2_controllers)
    (v2 / "cgroup.subtree_control").write_text(v2_subtree)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        f"30 25 0:26 / {tmp_path / 'unified'} rw - cgroup2 cgroup2 rw\n"
        f"31 25 0:27 / {tmp_path / 'memory'} rw - cgroup cgroup rw,memory\n"
    )
    own = tmp_path / "cgroup"
    own.write_text("4:memory:/me\n0::/me\n")
    return str(mountinfo), str(own), v2


def test_a_delegated_cgroup2_is_chosen_first_and_each_process_gets_memory_max(
    tmp_path: Path,
) -> None:
    mountinfo, own, v2 = fake_tree(tmp_path, "cpu memory pids", "memory pids")
    found = cgroups.find(mountinfo, own, probe=lambda directory, limit_file: None)
    assert found.v2 == str(v2) and found.v1 == str(tmp_path / "memory" / "me")
    limiter = Limiter(256 << 20, 2.0, "auto", found)
    assert limiter.mechanism == "cgroup2" and limiter.available()[:2] == ["cgroup2", "cgroup1"]
    placement = limiter.prepare()
    assert placement.cgroup == str(v2 / f"htagweb-{os.getpid()}" / "u1")
    assert (Path(placement.cgroup) / "memory.max").read_text() == str(256 << 20)
    assert placement.cpu == 2.0
    # the kernel's OOM killer says so in memory.events
    (Path(placement.cgroup) / "memory.events").write_text(
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"
    )
    assert limiter.classify(-signal.SIGKILL, placement.cgroup, "") == "memory"
    (Path(placement.cgroup) / "memory.events").write_text("oom_kill 0\n")
    assert limiter.classify(-signal.SIGKILL, placement.cgroup, "") is None  # another SIGKILL


def test_without_delegation_cgroup1_then_rlimit_and_why_is_said(tmp_path: Path) -> None:
    mountinfo, own, _ = fake_tree(tmp_path, "cpu pids", "")
    found = cgroups.find(mountinfo, own, probe=lambda directory, limit_file: "read-only")
    assert found.v2 is None and found.v1 is None
    assert any("no memory controller" in note for note in found.notes)
    limiter = Limiter(64 << 20, None, "auto", found)
    assert limiter.mechanism == "rlimit"
    placement = limiter.prepare()
    assert placement.cgroup is None and placement.ceiling > 64 << 20  # the template's size too
    with pytest.raises(LimitsUnavailable, match="cgroup1 is not available"):
        Limiter(64 << 20, None, "cgroup1", found)
    assert Limiter(None, None, "auto", found).mechanism == "none"


def test_deaths_are_classified_counted_and_told_to_who_asked() -> None:
    limiter = Limiter(1 << 20, 1.0, "rlimit", cgroups.Found(None, None, ()))
    assert limiter.classify(EXIT_MEMORY, None, "") == "memory"
    assert limiter.classify(-signal.SIGXCPU, None, "") == "cpu"
    assert limiter.classify(1, None, "") is None
    assert limiter.classify(-signal.SIGKILL, None, "memory") == "memory"  # the watchdog's
    deaths = Deaths()
    assert deaths.ask("worker", 42, alive=True) is None  # not reaped yet: answered later
    [(holder, frame)] = deaths.ended(42, "limit", "memory")
    [(kind, payload)] = FrameDecoder().feed(frame)
    assert holder == "worker" and kind is Kind.DONE
    assert b"This session reached its memory limit." in payload
    assert b'"limit"' in (deaths.ask("other", 42, alive=False) or b"")  # kept by pid
    assert b"unknown" in (deaths.ask("other", 7, alive=False) or b"")
    assert deaths.counts["limit"] == 1 and deaths.limits["memory"] == 1
    deaths.ask("gone", 43, alive=True)
    deaths.forget("gone")
    assert deaths.ended(43, "crash") == []


def test_a_memory_error_that_htag_swallows_still_ends_the_process() -> None:
    """htag 1 logs the exception as an argument, htag 2 as exc_info: both are seen, before
    applog's filter rewrites the record; other exceptions are not."""
    loggers = [logging.getLogger("htag.render"), logging.getLogger("htag")]
    before = [list(logger.filters) for logger in loggers]
    seen: list[int] = []
    try:
        childlimits.watch_memory_errors(lambda: seen.append(1))
        htag1, htag2 = loggers
        htag1.error("Exception %s:\n%s", MemoryError(), "traceback")
        try:
            raise MemoryError()
        except MemoryError:
            htag2.exception("htag 2 logs its traceback")
        htag1.error("Exception %s:\n%s", ValueError("not memory"), "traceback")
        assert len(seen) == 2
    finally:
        for logger, filters in zip(loggers, before, strict=True):
            logger.filters[:] = filters


def test_on_windows_job_objects_enforce_both_limits_and_nothing_else_is_offered() -> None:
    """Told it is Windows (the platform is injected; the job itself is only made there)."""
    limiter = Limiter(256 << 20, None, "auto", platform="win32")
    assert limiter.mechanism == "jobobject" and limiter.available() == ["jobobject"]
    placement = limiter.prepare()  # no /proc read: the template's job holds the ceiling
    assert (placement.mechanism, placement.ceiling, placement.cgroup) == ("jobobject", 0, None)
    assert Limiter(None, 2.0, "auto", platform="win32").mechanism == "jobobject"  # cpu too
    assert Limiter(None, None, "auto", platform="win32").mechanism == "none"
    with pytest.raises(LimitsUnavailable, match="rlimit is not available"):
        Limiter(256 << 20, None, "rlimit", platform="win32")
    with pytest.raises(LimitsUnavailable, match="jobobject is not available"):
        Limiter(256 << 20, None, "jobobject", cgroups.Found(None, None, ()), platform="linux")
    assert TemplateSettings(limit_mechanism="jobobject").limit_mechanism == "jobobject"


def test_on_windows_a_death_at_a_job_limit_is_the_limit_and_a_signal_means_nothing() -> None:
    limiter = Limiter(256 << 20, 1.0, "auto", platform="win32")
    assert limiter.classify(EXIT_MEMORY, None, "", pid=7) == "memory"  # MemoryError's exit
    assert limiter.classify(ERROR_NOT_ENOUGH_QUOTA, None, "", pid=7) == "cpu"
    assert limiter.classify(-signal.SIGXCPU, None, "", pid=7) is None  # not a signal there
    assert limiter.classify(1, None, "", pid=7) is None
    assert limiter.cpu_mechanism() == "job time limit"
    without_cpu = Limiter(256 << 20, None, "auto", platform="win32")
    assert without_cpu.classify(ERROR_NOT_ENOUGH_QUOTA, None, "") is None  # no time limit set


def test_macos_refuses_a_memory_limit_it_would_not_enforce_and_keeps_cpu_limit() -> None:
    with pytest.raises(LimitsUnavailable, match="not enforced on macOS"):
        Limiter(256 << 20, None, "auto", platform="darwin")
    with pytest.raises(LimitsUnavailable, match="not enforced on macOS"):
        Limiter(256 << 20, None, "watchdog", platform="darwin")  # no /proc to watch either
    cpu_only = Limiter(None, 2.0, "auto", platform="darwin")
    assert cpu_only.mechanism == "none" and cpu_only.prepare().cpu == 2.0
    assert cpu_only.classify(-signal.SIGXCPU, None, "") == "cpu"  # RLIMIT_CPU holds there
