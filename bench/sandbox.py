"""A private /tmp (and /dev/shm, and PID namespace) for htagweb 1.0.0, and the proof that it holds.

htagweb 1.0.0 SIGKILLs every pid written in any ``/tmp/*/*/PID`` file when a server starts
and when it stops (``HrClient.clean()``): on a shared machine that can kill anybody's
processes. We run it under ``unshare`` (we are root):

- a mount namespace where an empty directory of ours is bind-mounted over /tmp, so htagweb
  only ever sees its own PID files, and a fresh tmpfs over /dev/shm, where its sessions
  (``SharedMemoryDict``) would otherwise be left behind;
- a PID namespace: even a stale pid in its own files can only name one of its own processes,
  and when its server (pid 1 there) exits, the kernel ends every process it left.

verify() runs htagweb's own clean() inside such a sandbox against two canaries (one outside,
one inside) before htagweb is ever started; if it fails, htagweb is not run.

A clone (or htagweb's venv) may itself live under /tmp: such paths (`keep`) are bind-mounted
into the private /tmp at the same place first, so the server still finds its interpreter and
the bench's code there, and nothing else of the real /tmp.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

REAL_TMP = Path("/tmp")
# $0: the private directory; "$@": the command (exec'd: it becomes pid 1 of the namespace);
# KEEP: the binds of the kept paths into $0 (recursive bind below: they come along)
_ENTER = (
    "mount --make-rprivate / && KEEP"
    'mount --rbind "$0" /tmp && '
    'mount -t tmpfs -o size=2g,mode=1777 htagweb-bench-shm /dev/shm && exec "$@"'
)
_PROBE = """
import asyncio, glob, json, os, subprocess
report = {"tmp_entries": sorted(os.listdir("/tmp")), "shm_empty": os.listdir("/dev/shm") == [],
          "pid": os.getpid(), "visible_outside_canary": os.path.exists(CANARY_FILE)}
inner = subprocess.Popen(["sleep", "60"])
os.makedirs("/tmp/inner/app")
with open("/tmp/inner/app/PID", "w") as f:
    f.write(str(inner.pid))
from htagweb.hrclient import HrClient
asyncio.run(HrClient.clean())
report["inner_canary_killed"] = inner.wait(10) == -9
report["pid_files_seen"] = glob.glob("/tmp/*/*/PID")
print(json.dumps(report))
"""


class IsolationError(Exception):
    """The sandbox could not be built or did not isolate htagweb: it must not run."""


def kept_under_tmp(paths: Iterable[str | Path]) -> list[Path]:
    """Those of `paths` that lie under the real /tmp (resolved), without nested duplicates."""
    found = sorted(
        {
            Path(os.path.realpath(p))
            for p in paths
            if Path(os.path.realpath(p)).is_relative_to(REAL_TMP)
        }
    )
    outer = [p for p in found if not any(p != q and p.is_relative_to(q) for q in found)]
    return [p for p in outer if p != REAL_TMP]


def _enter(keep: Sequence[Path]) -> str:
    binds = "".join(
        f'mkdir -p "$0"/{shlex.quote(str(p.relative_to(REAL_TMP)))} && '
        f'mount --bind {shlex.quote(str(p))} "$0"/{shlex.quote(str(p.relative_to(REAL_TMP)))} && '
        for p in keep
    )
    return _ENTER.replace("KEEP", binds)


def sandboxed(
    command: Sequence[str], private_tmp: str, keep: Iterable[str | Path] = ()
) -> list[str]:
    """`command` run with `private_tmp` as /tmp, a private /dev/shm, in a new PID namespace;
    the paths of `keep` under the real /tmp stay visible at their place."""
    if REAL_TMP in {Path(os.path.realpath(p)) for p in keep}:
        raise IsolationError("a kept path is /tmp itself: nothing would be private")
    return [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "sh",
        "-c",
        _enter(kept_under_tmp(keep)),
        private_tmp,
        *command,
    ]


def verify(python: str, keep: Iterable[str | Path] = ()) -> dict[str, object]:
    """Run htagweb's PID-file killer in a sandbox; prove it kills inside and not outside
    (and that of the real /tmp only the kept paths, if any, show through).

    Raises IsolationError when anything is not as it must be.
    """
    keep = list(keep)
    visible = sorted({p.relative_to(REAL_TMP).parts[0] for p in kept_under_tmp(keep)})
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise IsolationError("needs root and unshare(1) to give htagweb a private /tmp")
    workdir = tempfile.mkdtemp(prefix="hwb-verify-")
    # the outside canary: a process of ours whose pid sits where htagweb looks, in the real /tmp
    outside = subprocess.Popen(["sleep", "60"])
    canary_dir = os.path.join(tempfile.gettempdir(), f"hwb-canary-{uuid.uuid4().hex}")
    canary_file = os.path.join(canary_dir, "bench.apps.counter.App", "PID")
    try:
        os.makedirs(os.path.dirname(canary_file))
        with open(canary_file, "w") as pid_file:
            pid_file.write(str(outside.pid))
        probe = _PROBE.replace("CANARY_FILE", repr(canary_file))
        report = _run_probe(python, probe, workdir, keep)
        report["outside_canary_alive"] = outside.poll() is None
    finally:
        outside.kill()
        outside.wait()
        shutil.rmtree(canary_dir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    wanted = {
        "tmp_entries": visible,
        "shm_empty": True,
        "visible_outside_canary": False,
        "inner_canary_killed": True,
        "outside_canary_alive": True,
        "pid": 1,
    }
    wrong = {k: report.get(k) for k, v in wanted.items() if report.get(k) != v}
    if wrong:
        raise IsolationError(f"the sandbox does not isolate htagweb: {wrong}")
    return report


def _run_probe(
    python: str, probe: str, workdir: str, keep: Sequence[str | Path]
) -> dict[str, object]:
    private_tmp = os.path.join(workdir, "tmp")
    os.mkdir(private_tmp)
    try:
        done = subprocess.run(
            sandboxed([python, "-c", probe], private_tmp, keep),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise IsolationError("the isolation probe did not finish in 60 s") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise IsolationError(
            f"the isolation probe failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    try:
        report: dict[str, object] = json.loads(lines[-1])
    except ValueError as exc:
        raise IsolationError(f"the isolation probe said: {done.stdout[-2000:]}") from exc
    return report
