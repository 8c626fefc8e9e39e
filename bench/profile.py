"""Flame graphs (py-spy) of our host's processes while one user clicks, or while new users
arrive one at a time: ``python -m bench.profile [--seconds 20] [--out bench/profiles]``.

Starts ``ours-1w`` as the bench does (uvicorn, uvloop, httptools, websockets), then:

- ``click-worker.svg`` / ``click-user.svg``: the server worker and the clicking user's own
  process while that user clicks in a loop (one click at a time);
- ``newuser-worker.svg`` / ``newuser-template.svg``: the worker, and the template with its
  children (``--subprocesses``: the spares that become the new users), while new users
  arrive one after the other.

Only on-CPU samples (py-spy's default): the graphs show where CPU time goes, not waiting.
Needs py-spy (``pip install py-spy``) beside this interpreter, and ptrace rights (root).
Also writes ``summary.txt``: the functions with the most samples, on top of the stack (self)
and anywhere in it (inclusive), from each graph's collapsed stacks (``.txt``, removed after
unless ``--keep-stacks``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import procs
from bench.scenarios import Context
from bench.servers import ROOT, TARGETS, Pythons, Server
from bench.sizes import FULL


def py_spy() -> str:
    found = Path(sys.executable).with_name("py-spy")
    path = str(found) if found.exists() else shutil.which("py-spy")
    if path is None:
        raise SystemExit("py-spy not found: pip install py-spy")
    return path


def record(pid: int, svg: Path, subprocesses: bool = False) -> list[subprocess.Popen[bytes]]:
    """Two samplers of `pid` (not pausing it): the flame graph, and the collapsed stacks
    (``.txt`` beside it) for the summary's self times."""
    recorders = []
    for out, form in ((svg, "flamegraph"), (svg.with_suffix(".txt"), "raw")):
        args = [py_spy(), "record", "-p", str(pid), "-o", str(out), "-f", form, "-r", "250"]
        args += ["--nonblocking", *(["--subprocesses"] if subprocesses else [])]
        recorders.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    return recorders


def finish(recorders: Sequence[subprocess.Popen[bytes]]) -> None:
    """py-spy writes its graph when interrupted."""
    for rec in recorders:
        rec.send_signal(signal.SIGINT)
    for rec in recorders:
        _, err = rec.communicate(timeout=60)
        if rec.returncode not in (0, -signal.SIGINT):
            print(err.decode(errors="replace")[-500:], file=sys.stderr)


def heaviest(collapsed: Path, count: int = 30) -> list[str]:
    """From py-spy's collapsed stacks: the functions with the most samples on top of the
    stack (self), and with the most samples anywhere in it (inclusive), in % of all."""
    own: dict[str, int] = {}
    anywhere: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        samples = int(count_text)
        total += samples
        frames = [_short(frame) for frame in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        for frame in set(frames):
            anywhere[frame] = anywhere.get(frame, 0) + samples
    if not total:
        return ["no samples"]
    lines = [f"{total} samples; self:"]
    for frame, samples in sorted(own.items(), key=lambda item: -item[1])[:count]:
        lines.append(f"  {100 * samples / total:6.2f}%  {frame}")
    lines.append("inclusive (htagweb_asgi, websockets, uvicorn, htag):")
    ours = [f for f in anywhere if any(k in f for k in _OURS)]
    for frame in sorted(ours, key=lambda f: -anywhere[f])[:count]:
        lines.append(f"  {100 * anywhere[frame] / total:6.2f}%  {frame}")
    return lines


_OURS = ("htagweb_asgi/", "websockets/", "uvicorn/", "htag/")


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` → ``func (pkg/mod.py)``: lines merged."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for cut in ("site-packages/", "/lib/python3", "/htagweb_asgi/", "/bench/"):
        if cut in where:
            kept = cut.strip("/") + "/" if cut.startswith("/h") or cut == "/bench/" else ""
            where = kept + where.split(cut, 1)[1]
            break
    return f"{name} ({where})"


def _pid_of(marker: str, needle: str) -> int:
    for proc in procs.marked(marker):
        if needle in " ".join(proc.cmdline()) and proc.ppid() not in {
            p.pid for p in procs.marked(marker) if needle in " ".join(p.cmdline())
        }:
            return proc.pid
    raise LookupError(f"no process running {needle}")


async def clicks(ctx: Context, out: Path, seconds: float) -> None:
    first = await ctx.arrive()
    assert first is not None, ctx.errors.messages
    user = first[0]
    await ctx.clicks(user, 50)  # warm
    pid = procs.host_pid(ctx.server.marker, user.pid) if user.pid is not None else None
    assert ctx.server.process is not None and pid is not None
    recorders = [
        *record(ctx.server.process.pid, out / "click-worker.svg"),
        *record(pid, out / "click-user.svg"),
    ]
    await asyncio.sleep(1)  # py-spy attaches (a bounded pause, nothing to wait for instead)
    end, done = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        done += len(await ctx.clicks(user, 100))
    finish(recorders)
    print(f"clicks: {done} in {seconds:g} s")


async def new_users(ctx: Context, out: Path, seconds: float) -> None:
    await ctx.arrive()  # starts the template
    assert ctx.server.process is not None
    template = _pid_of(ctx.server.marker, "htagweb_asgi.proc.template")
    recorders = [
        *record(ctx.server.process.pid, out / "newuser-worker.svg"),
        *record(template, out / "newuser-template.svg", subprocesses=True),
    ]
    await asyncio.sleep(1)
    end, done = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        done += len(await ctx.arrive_many(5, 1))
        for user in ctx.users[1:]:  # keep the live users few: the arrivals are measured
            await user.aclose()
        del ctx.users[1:]
    finish(recorders)
    print(f"new users: {done} in {seconds:g} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "profiles")
    parser.add_argument("--what", default="click,new_user")
    parser.add_argument("--keep-stacks", action="store_true", help="keep the collapsed stacks")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = []
    for what in args.what.split(","):
        log = args.out / f"{what}-server.log"
        log.unlink(missing_ok=True)
        server = Server(TARGETS["ours-1w"], Pythons(ours=sys.executable, htagweb=None), log)
        server.start()
        try:
            ctx = Context("ours", server, FULL)
            run = clicks if what == "click" else new_users
            asyncio.run(_with_close(ctx, run(ctx, args.out, args.seconds)))
        finally:
            server.stop()
            log.unlink(missing_ok=True)
        prefix = "click-" if what == "click" else "newuser-"
        for svg in sorted(args.out.glob(f"{prefix}*.svg")):
            stacks = svg.with_suffix(".txt")
            summary += [f"== {svg.name}", *heaviest(stacks), ""]
            if not args.keep_stacks:
                stacks.unlink(missing_ok=True)
    (args.out / "summary.txt").write_text("\n".join(summary))
    print("\n".join(summary))
    return 0


async def _with_close(ctx: Context, work: object) -> None:
    try:
        await work  # type: ignore[misc]
    finally:
        await ctx.close()


if __name__ == "__main__":
    sys.exit(main())
