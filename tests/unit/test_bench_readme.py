"""The README's "Measured figures", written by a full bench run (bench/readme.py)."""

from __future__ import annotations

from typing import Any

from bench import readme


def run(targets: tuple[str, ...] = readme.COLUMNS) -> dict[str, Any]:
    figure = {"new_seq_usable_p50": 27.5, "new_conc_usable_p50": 116.0, "push_delivered": 0.0}
    return {
        "command": "bash bench/run.sh --reps 3",
        "started": "2026-12-02T07:17:00",
        "reps": 3,
        "machine": {"commit": "b12272d", "logical_cores": 2, "software": {}},
        "medians": {name: {k: {"median": v} for k, v in figure.items()} for name in targets},
    }


def test_the_section_quotes_the_run_and_its_figures() -> None:
    section = readme.section(run())
    assert section is not None
    assert "commit b12272d" in section and "medians of 3" in section
    assert "| 27.5 / 116 ms |" in section
    assert "| 0 % |" in section  # a share, not "0.000"
    assert "| (none) |" in section  # a figure the run does not have


def test_a_run_without_the_three_columns_writes_nothing() -> None:
    assert readme.section(run(("ours-1w", "floor"))) is None


def test_the_section_replaces_only_what_lies_between_the_markers() -> None:
    page = f"# t\n\n## Measured figures\n\n{readme.BEGIN}\nold\n{readme.END}\n\n## Next\n"
    merged = readme.merge(page, f"{readme.BEGIN}\nnew\n{readme.END}")
    assert merged == f"# t\n\n## Measured figures\n\n{readme.BEGIN}\nnew\n{readme.END}\n\n## Next\n"
    assert readme.merge("# no markers\n", "x") == "# no markers\n"
