"""The package's layers, read from its imports: what may import what, no circle, few floors.

The static graph counts module-level imports (not those inside functions, which run only
when needed, nor those under TYPE_CHECKING); the runtime checks import in a fresh
interpreter and look at what it loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "htagweb_asgi"
MAX_FLOORS = 12  # floors 0..11: it was 18 before the package had subpackages


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(tree: ast.Module, package: str) -> set[str]:
    """Modules of the package imported when the module is (not inside functions)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in ast.walk(node) if isinstance(node, ast.If | ast.Try) else [node]:
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                base = child.module
                if base.startswith(package):
                    found.add(base)
                    found.update(f"{base}.{alias.name}" for alias in child.names)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith(package))
    return found


@cache
def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = top_level_imports(ast.parse(path.read_text()), "htagweb_asgi")
        edges[name] = {m for m in imported if m in modules and m != name}
    return edges


def floors(edges: dict[str, set[str]]) -> dict[str, int]:
    """Floor of a module: 0 if it imports none of ours, else 1 + its highest import's."""
    memo: dict[str, int] = {}

    def floor(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            raise AssertionError(f"import circle: {' -> '.join((*path, name))}")
        if name not in memo:
            below = [floor(m, (*path, name)) for m in edges[name] if m != "htagweb_asgi"]
            memo[name] = 1 + max(below) if below else 0
        return memo[name]

    return {name: floor(name, ()) for name in edges}


def test_no_import_circle_and_few_floors() -> None:
    levels = floors(graph())
    highest = max(levels, key=levels.__getitem__)
    assert levels[highest] < MAX_FLOORS, f"{highest} is at floor {levels[highest]}"


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("htagweb_asgi.web", ("htagweb_asgi.proc", "htagweb_asgi.cluster")),
        ("htagweb_asgi.cluster", ("htagweb_asgi.proc",)),
        (
            "htagweb_asgi.proc",
            (
                "htagweb_asgi.web",
                "htagweb_asgi.sessions.core",
                "htagweb_asgi.sessions.store",
                "htagweb_asgi.sessions.middleware",
                "htagweb_asgi.integrations",
            ),
        ),
        (
            "htagweb_asgi.protocol",
            ("htagweb_asgi.web", "htagweb_asgi.proc", "htagweb_asgi.sessions"),
        ),
        (
            "htagweb_asgi.sessions",
            ("htagweb_asgi.web", "htagweb_asgi.proc", "htagweb_asgi.cluster"),
        ),
        ("htagweb_asgi.parano", ("htagweb_asgi.web", "htagweb_asgi.sessions")),
    ],
)
def test_layers_import_only_what_they_may(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = sorted(
        f"{module} imports {imported}"
        for module, imports in graph().items()
        if module.startswith(layer)
        for imported in imports
        if imported.startswith(forbidden)
    )
    assert not wrong


def loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_template_loads_no_web_code_no_anyio_no_sqlite() -> None:
    loaded = loaded_by("import htagweb_asgi.proc.template")
    unwanted = {m for m in loaded if m.startswith("htagweb_asgi.web")}
    unwanted |= {m for m in ("anyio", "sqlite3", "asgiref", "htag") if m in loaded}
    assert not unwanted


def test_the_session_middleware_loads_nothing_of_the_process_side() -> None:
    loaded = loaded_by("import htagweb_asgi.sessions.middleware")
    assert not {m for m in loaded if m.startswith("htagweb_asgi.proc")}


def test_a_host_of_a_module_string_imports_no_htag() -> None:
    """Workers never import htag: the App named as a string is imported by its template."""
    loaded = loaded_by(
        "from htagweb_asgi import HtagASGI\n"
        "HtagASGI('tests.support.apps.counter:App', runtime_dir='/nonexistent')\n"
        "import htagweb_asgi.web.page, htagweb_asgi.web.relay, htagweb_asgi.web.post"
    )
    assert not {m for m in loaded if m == "htag" or m.startswith(("htag.", "htagweb_asgi.proc"))}


def test_a_host_on_one_machine_loads_no_cluster_code_and_no_redis() -> None:
    """Cluster mode costs nothing where it is not used (no $HTAGWEB_REDIS_URL)."""
    loaded = loaded_by(
        "import os\n"
        "os.environ.pop('HTAGWEB_REDIS_URL', None)\n"
        "from htagweb_asgi import HtagASGI\n"
        "HtagASGI('tests.support.apps.counter:App', runtime_dir='/nonexistent')\n"
        "import htagweb_asgi.web.page, htagweb_asgi.web.relay, htagweb_asgi.web.post"
    )
    assert not {m for m in loaded if m == "redis" or m.startswith("htagweb_asgi.cluster")}
