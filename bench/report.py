"""The run's JSON and its markdown (BENCHMARKS.md): medians, ratios, targets, machine."""

from __future__ import annotations

import math
from typing import Any

from bench.metrics import Metric
from bench.servers import LEFTOVER_TIMEOUT as LEFTOVER_WAIT
from bench.servers import TARGETS
from bench.sizes import FULL

PUSH_WAIT = FULL.push_wait

OURS, THEIRS, FLOOR = "ours-1w", "htagweb", "floor"
RATIOS = ((OURS, THEIRS), (OURS, FLOOR))

TIMED = """\
- **New user, usable page**: a new cookie jar (a new browser) GETs the page; then what the
  page needs before a click can work: for htagweb-asgi the client script
  (`/_/client.js`, no cache yet) and the websocket up to the host's `ready` message; for
  htagweb 1.0.0 and the floor, the websocket handshake (their pages carry their script
  inline). The page's counter must read 0 (a fresh App). "Page HTML alone" stops at the body.
- **Click**: send the JSON the `+1` button's `onclick` passes to `interact(...)` (with a
  browser-like click event) → receive the actions dict that re-renders the counter, whose
  value is checked (each user's own counter +1; the floor's one shared counter: values
  strictly increasing per user, and distinct and contiguous over all users).
- **Click while users arrive**: one connected user clicks (5 ms pause between clicks) while
  10 new users arrive at once; repeated in waves; latencies of the clicks during the waves.
- **Server CPU per click**: user + system CPU of every process of the server (found by an
  environment marker: our host's template and user processes are not its children) during the
  click phase, divided by the clicks. It includes whatever those processes do meanwhile.
- **Push**: the `push` button starts a task that calls `update()` 3 times, 10 ms apart; each
  pushed span carries the server's `time.time_ns()` taken just before `update()`; latency =
  receipt time - that stamp (same machine clock).
- **Memory**: USS (private clean + dirty), PSS and RSS from `/proc/PID/smaps_rollup` of the
  user's own process (the pid its page shows), after its page and after its 500 clicks; the
  whole server = the sum over all its processes.
- **Sweep**: live users hold an open websocket and do nothing; at each size, 10 of them click
  40 times each, at once (the same load at every size: what "flat" compares), then 50 of
  them (all, when fewer) do the same.
- **Flood** (`flood`, `flood_ws`; our host at its default admission control, every other
  scenario with the per-address limits off): one address (127.0.0.2) sends cookie-less page
  loads at a fixed rate, at most 20 at a time; in `flood_ws` each page served connects its
  websocket and clicks every 8 s. Meanwhile, from 127.0.0.1, the user who clicked before
  clicks every 0.5 s and a new user arrives every second (usable page, then 3 clicks):
  "served" is the share of them whose page and 3 clicks all worked; their page and click
  latencies count while the flood lasts. The attacker's processes: every process of the
  server less those before the flood (server, template, spares, the warm-up user) and one
  per newcomer served, counted every 2 s, and once more 45 s after the flood stopped; the
  whole server's PSS is summed at each count."""


def fmt(value: Any, unit: str = "") -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    if abs(value) >= 100 or (unit == "" and value == int(value)):
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(medians: dict[str, Any], key: str, ours: str, other: str) -> float:
    a = medians.get(ours, {}).get(key, {}).get("median", math.nan)
    b = medians.get(other, {}).get(key, {}).get("median", math.nan)
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return math.nan
    return float(a / b)


def ratios(medians: dict[str, Any], all_metrics: list[Metric]) -> dict[str, dict[str, float]]:
    return {
        f"{ours}/{other}": {m.key: ratio(medians, m.key, ours, other) for m in all_metrics}
        for ours, other in RATIOS
    }


def results_table(data: dict[str, Any], all_metrics: list[Metric]) -> list[str]:
    targets = [name for name in TARGETS if name in data["medians"]]
    head = ["what", "figure", *(TARGETS[name].label for name in targets)]
    head += [f"{TARGETS[a].label.split(',')[0]} / {TARGETS[b].label}" for a, b in RATIOS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in all_metrics:
        cells = [metric.group, f"{metric.label} ({metric.unit})" if metric.unit else metric.label]
        for name in targets:
            cells.append(fmt(data["medians"][name].get(metric.key, {}).get("median"), metric.unit))
        for a, b in RATIOS:
            value = data["ratios"][f"{a}/{b}"].get(metric.key, math.nan)
            cells.append(f"{fmt(value)}x" if math.isfinite(value) else "—")
        if any(c != "—" for c in cells[2:]):
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def goals_table(data: dict[str, Any]) -> list[str]:
    names = [name for name in (OURS, "ours-4w") if name in data["goals"]]
    head = ["target (issue 17)", *(TARGETS[n].label for n in names), "met (1 worker)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, goal in enumerate(data["goals"].get(OURS, [])):
        cells = [goal["goal"]]
        for name in names:
            one = data["goals"][name][row]
            cells.append(f"{fmt(one['value'])} {one['unit']}".strip())
        met = goal["met"]
        cells.append("yes" if met else "**no**" if met is False else "unknown")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def load_line(runs: list[dict[str, Any]], cores: int) -> str:
    """How busy the machine was while we measured (everything on it, the bench included)."""
    loads = [run["loadavg_before"][0] for run in runs if "loadavg_before" in run]
    others = [run["others_busy_cores"] for run in runs if run.get("others_busy_cores")]
    if not loads or not others:
        return "- load during the run: not recorded"
    return (
        f"- during the run: 1-minute load average {min(loads):.1f} to {max(loads):.1f}; "
        f"processes other than the bench and the server under test kept "
        f"{sum(others) / len(others):.2f} of the {cores} cores busy on average "
        f"(from {min(others):.2f} to {max(others):.2f} over the scenario runs)"
    )


def python_of(data: dict[str, Any]) -> str:
    """The Python of the run (each venv's, when they differ)."""
    software = data.get("machine", {}).get("software", {})
    found = {name: one.get("python") for name, one in software.items() if one.get("python")}
    if len(set(found.values())) == 1:
        return next(iter(found.values()))
    return ", ".join(f"{v} ({k})" for k, v in found.items()) or "unknown"


def machine_lines(machine: dict[str, Any]) -> list[str]:
    software = machine.get("software", {})
    lines = [
        f"- CPU: {machine['cpu_model']}, {machine['logical_cores']} logical cores "
        f"({machine['physical_cores']} physical), {machine['ram_gib']} GiB RAM",
        f"- {machine['os']}, Linux {machine['kernel']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}",
    ]
    for name, found in software.items():
        packages = ", ".join(f"{k} {v}" for k, v in found.get("packages", {}).items() if v)
        lines.append(f"- {name} venv: Python {found.get('python', '?')}; {packages}")
    return lines


def collect_notes(runs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Facts of this run worth a sentence (missing pushes, stopped sweeps, leftovers,
    errors), the same sentence of several repetitions said once."""
    said: dict[str, dict[str, list[int]]] = {}
    for run in runs:
        for text in _run_facts(run):
            said.setdefault(run["target"], {}).setdefault(text, []).append(run["rep"] + 1)
    return {
        target: [f"{_repetitions(reps)}: {text}" for text, reps in texts.items()]
        for target, texts in said.items()
    }


def _repetitions(reps: list[int]) -> str:
    return ("repetition " if len(reps) == 1 else "repetitions ") + ", ".join(map(str, reps))


def _run_facts(run: dict[str, Any]) -> list[str]:
    result, facts = run.get("result") or {}, []
    if run["scenario"] == "pushes" and result and not result.get("supported"):
        facts.append(
            f"{result['pushes_delivered']} of {result['pushes_expected']} pushes delivered "
            f"({result['rounds']} rounds of the push button, each push awaited "
            f"{PUSH_WAIT:g} s)"
        )
    for step in result.get("steps", []) if run["scenario"] == "sweep" else []:
        if not step.get("reached"):
            live = step["live_users"]
            count = f"{live}" if step.get("counted_each_user") else f"at least {live}"
            facts.append(f"sweep {step['note']} ({count} users live when stopped)")
    if run.get("leftover_processes"):
        facts.append(
            f"{run['scenario']}: {run['leftover_processes']} processes still alive "
            f"{LEFTOVER_WAIT:g} s after the server stopped (then killed by the harness)"
        )
    if run.get("errors"):
        facts.append(f"{run['scenario']}: errors: {'; '.join(run.get('error_messages', [])[:3])}")
    return facts


KNOWN = {
    "htagweb": [
        "its `update()` pushes never reach the page: in the user process `sendactions` only "
        "logs them, and the websocket's `HrClient.updater()` is a placeholder coroutine the "
        "`async for` of `HRSocket.on_connect` fails on (its log: \"'async for' requires an "
        'object with __aiter__ method, got coroutine")',
        "each new user blocks its whole server ~200 ms (`multiprocessing.Process(...).start()` "
        "then `join(timeout=0.2)` inside the event loop, `htagweb/hrclient.py`), hence its "
        "new-user and click-while-arriving figures",
        "it logs every interaction at INFO (its own `logging.basicConfig`); the bench sends "
        "every server's output to a log file",
    ],
    "floor": [
        "a single App instance serves everybody: a new user gets the live instance "
        "(nothing is created per user), the counter is shared, and there is no per-user "
        "process to measure",
    ],
}


def notes(data: dict[str, Any]) -> list[str]:
    """What a reader must know to read the figures right (all measured in this run)."""
    found = []
    isolation = data.get("htagweb_isolation")
    if isolation:
        found.append(f"- htagweb 1.0.0 isolation: {isolation['summary']}")
    for name, texts in KNOWN.items():
        if name in data["medians"]:
            found += [f"- {TARGETS[name].label}: {text}" for text in texts]
    for name, per_target in data.get("notes", {}).items():
        found += [f"- {TARGETS[name].label}: {text}" for text in per_target]
    if data.get("note"):
        found.append(f"- {data['note']}")
    return found


PICTURE_TITLES = {
    "clicks-cdf.png": "Click latency distribution",
    "new-users.png": "New user's usable page against arrivals at once",
    "memory.png": "Memory against live users",
    "cpu-per-click.png": "Server CPU per click against live users",
}


def pictures_section(data: dict[str, Any]) -> list[str]:
    """The pictures drawn from this run's JSON (bench/pictures.py), if any."""
    shown = data.get("pictures_shown") or []
    if not shown:
        return []
    lines = ["## Pictures", ""]
    for path in shown:
        title = PICTURE_TITLES.get(path.rsplit("/", 1)[-1], path)
        lines += [f"![{title}]({path})", ""]
    return lines


BY_HAND_BEGIN = "<!-- by-hand:begin (written by people: every run of python -m bench keeps it) -->"
BY_HAND_END = "<!-- by-hand:end -->"


def keep_by_hand(previous: str, rewritten: str) -> str:
    """A run rewrites BENCHMARKS.md: keep the section written by hand (analyses, the
    capacity run), after the generated part."""
    if BY_HAND_BEGIN not in previous or BY_HAND_END not in previous:
        return rewritten
    kept = previous.partition(BY_HAND_BEGIN)[2].partition(BY_HAND_END)[0]
    return rewritten.rstrip("\n") + "\n\n" + BY_HAND_BEGIN + kept + BY_HAND_END + "\n"


def render(data: dict[str, Any], all_metrics: list[Metric]) -> str:
    """BENCHMARKS.md."""
    status = "No errors" if data["errors"] == 0 else f"**{data['errors']} ERRORS**"
    lines = [
        "# Benchmarks",
        "",
        f"Measured with `{data['command']}` (see [bench/README.md](bench/README.md)) on "
        f"{data['started'][:10]}, commit {data['machine'].get('commit')}: "
        f"{data['reps']} repetition(s) interleaved between targets, each scenario on a freshly "
        f"started server; each figure is the **median of the repetitions**. {status} "
        f"({data['clicks_checked']:,} click replies checked). Whole run: "
        f"{data['duration_s'] / 60:.0f} min. Raw figures: `{data['json']}`. "
        f"Python {python_of(data)}.",
        "",
        "## Machine",
        "",
        *machine_lines(data["machine"]),
        load_line(data["runs"], data["machine"]["logical_cores"]),
        "",
        "## Results",
        "",
        *results_table(data, all_metrics),
        "",
        "Ratios below 1x mean htagweb-asgi (1 worker) needs less time, CPU or memory; for the "
        "rates (interactions/s, users/s, pushes delivered) above 1x is better.",
        "",
        *pictures_section(data),
        "## Targets",
        "",
        *goals_table(data),
        "",
        "## What is timed",
        "",
        TIMED,
        "",
        "## Notes",
        "",
        *notes(data),
        "",
    ]
    return "\n".join(lines)
