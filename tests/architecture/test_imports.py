"""The import rule of docs/architecture.md, checked on every module's import statements (top level
and inside functions alike):

- ``rules`` imports nothing of di_ops but ``rules`` and ``core.settings``;
- ``core`` imports ``rules``, ``core``, ``integrations`` and ``db`` (never a pipeline);
- ``integrations`` and ``db`` never import ``pipelines``, ``orchestration`` or ``dags``;
- a pipeline never imports another pipeline;
- ``dags/`` import only ``core``, ``orchestration`` and ``pipelines``;
- ``plugins/di_ops/`` holds only packages (no loose modules), and no module is over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "plugins" / "di_ops"
MAX_LINES = 400


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every di_ops import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "di_ops" or node.module.startswith("di_ops."):
                folder = PACKAGE.parent / node.module.replace(".", "/")
                for alias in node.names:  # ``from di_ops.core import settings`` imports di_ops.core.settings
                    is_module = (folder / f"{alias.name}.py").exists() or (folder / alias.name).is_dir()
                    found.append((node.lineno, f"{node.module}.{alias.name}" if is_module else node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("di_ops")]
    return found


def _layer(module: str) -> tuple[str, ...]:
    parts = module.split(".")[1:]
    if parts[:1] == ["pipelines"]:
        return tuple(parts[:2])
    return tuple(parts[:1])


def _allowed(source: tuple[str, ...], target: tuple[str, ...], target_module: str) -> bool:
    kind = source[0]
    if kind == "rules":
        return target == ("rules",) or target_module == "di_ops.core.settings"
    if kind == "core":  # integrations only inside functions: the failure alert, the refusal's audit row
        return target[0] in {"rules", "core", "integrations", "db"}
    if kind in {"integrations", "db"}:
        return target[0] in {"rules", "core", "integrations", "db"}
    if kind == "orchestration":
        return target[0] != "dags"
    if kind == "pipelines":
        return target[0] != "pipelines" or target == source
    if kind == "dags":
        return target[0] in {"core", "orchestration", "pipelines"}
    return True


def _modules() -> list[tuple[Path, tuple[str, ...]]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        out.append((path, _layer(".".join(rel.parts))))
    out += [(path, ("dags",)) for path in sorted((REPO / "dags").glob("*.py"))]
    return out


def test_every_import_follows_the_rule() -> None:
    broken = []
    for path, source in _modules():
        for line, module in _imports(path):
            if not _allowed(source, _layer(module), module):
                broken.append(f"{path.relative_to(REPO)}:{line} ({'.'.join(source)}) imports {module}")
    assert not broken, "imports against docs/architecture.md:\n" + "\n".join(broken)


def test_the_package_holds_only_packages() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"plugins/di_ops/ holds only packages; move {loose} into one"
    for folder in [p for p in PACKAGE.rglob("*") if p.is_dir() and any(p.glob("*.py"))]:
        assert (folder / "__init__.py").exists(), f"{folder.relative_to(REPO)} has no __init__.py"


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in [*PACKAGE.rglob("*.py"), *(REPO / "dags").glob("*.py")]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("di_ops.rules.sla", "di_ops.core.settings", True),
        ("di_ops.rules.sla", "di_ops.core.tasks", False),
        ("di_ops.core.tasks", "di_ops.pipelines.cop.tasks", False),
        ("di_ops.integrations.mail", "di_ops.pipelines.cop.tasks", False),
        ("di_ops.pipelines.cop.tasks", "di_ops.pipelines.cop.plan", True),
        ("di_ops.pipelines.housekeeping.tasks", "di_ops.pipelines.retention.settings", False),
        ("dags", "di_ops.integrations.opsdb", False),
        ("dags", "di_ops.pipelines.sla.tasks", True),
    ],
)
def test_the_rule_itself(source: str, target: str, allowed: bool) -> None:
    """The checker tells an allowed import from a forbidden one (so the test above can fail)."""
    src = ("dags",) if source == "dags" else _layer(source)
    assert _allowed(src, _layer(target), target) is allowed
