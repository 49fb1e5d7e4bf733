"""Every HTML page and e-mail body of the project comes from an autoescaped Jinja2 template file.

House rule (docs: STYLE.md, "Every HTML/e-mail from Jinja2 with autoescape"): inventory names,
partner names, case ids, folder names and exception texts are attacker-controlled; markup is
written only in ``plugins/di_ops/core/templates/`` and rendered by ``di_ops.core.templating.render``
(autoescape on). This inventory reads every Python file under ``plugins/`` and ``dags/`` and fails
on any string literal that holds an HTML tag (outside docstrings), on inline template strings, on
``Markup`` and on templates that switch escaping off.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
TEMPLATES = PLUGINS / "di_ops" / "core" / "templates"
SKIPPED = {TEMPLATES, PLUGINS / "di_ops" / "core" / "templating.py"}

TAGS = (
    "html head body title meta style link script img iframe object embed form input button a p div span table thead "
    "tbody tr td th ul ol li b strong em i u code pre br hr h1 h2 h3 h4 h5 h6 section header main footer figure "
    "figcaption svg text line polyline circle rect path g"
).split()
TAG = re.compile(r"<!doctype\b|</?(?:" + "|".join(TAGS) + r")(?:\s[^<>]*)?/?>", re.IGNORECASE)
INLINE_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)

# (file relative to the repo, the literal's first characters) -> (why it may hold markup, every value `| e`)
ALLOWED = {
    ("plugins/di_ops/core/tasks.py", "<p>Task <b>{{ ti.task_id | e }}</b>"): (
        "ALERT_HTML of the task-failure alert: rendered by Airflow's SmtpNotifier with the DAG's own Jinja "
        "environment (no autoescape there), so every value in it is escaped with `| e`",
        True,
    ),
}
# files that may still render an inline template string, and why (none today)
INLINE_ALLOWED: set[str] = set()


def _python_files() -> list[Path]:
    files = [*PLUGINS.rglob("*.py"), *(REPO / "dags").rglob("*.py")]
    return sorted(f for f in files if not any(f == s or s in f.parents for s in SKIPPED))


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal of ``path`` but docstrings; an f-string's literal parts
    joined with ``{}`` where a value goes in."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    inside_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docs and id(node) not in inside_fstrings:
                found.append((node.lineno, node.value))
    return found


def _allowed(path: Path, text: str) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return any(rel == file and text.startswith(start) for file, start in ALLOWED)


def markup_literals(files: list[Path]) -> list[str]:
    """``file:line: literal`` of every string literal holding an HTML tag or a Jinja template, not allowed."""
    left = []
    for path in files:
        for line, text in _literals(path):
            if (TAG.search(text) or INLINE_TEMPLATE.search(text) and "<" in text) and not _allowed(path, text):
                left.append(f"{path.relative_to(REPO)}:{line}: {text[:80]!r}")
    return left


def test_no_html_is_built_outside_the_templates() -> None:
    assert markup_literals(_python_files()) == []


def test_every_allowed_literal_is_still_there_and_escapes_where_nothing_else_does() -> None:
    """The allow-list names real literals (a stale entry would hide a new one at the same place); a
    template string rendered outside the autoescaped environment escapes every value with ``| e``."""
    for (file, start), (why, escapes_itself) in ALLOWED.items():
        texts = [t for _, t in _literals(REPO / file) if t.startswith(start)]
        assert len(texts) == 1, (file, start, why)
        if escapes_itself:
            for expression in re.findall(r"\{\{(.*?)\}\}", texts[0]):
                assert re.search(r"\|\s*e\s*$", expression), (file, expression)


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('x = f"<p>{name}</p>"\n', True),
        ("x = '<td class=num>' + value\n", True),
        ('x = "<!DOCTYPE html>"\n', True),
        ('x = "<h2>%s</h2>" % name\n', True),
        ('x = "<li>{}</li>".format(name)\n', True),
        ('T = """<b>{{ name }}</b>"""\n', True),
        ('x = "<svg width=\\"1\\">"\n', True),
        ('def f():\n    """Writes ``<suite>/<run name>`` and a <p> tag."""\n', False),  # a docstring
        ('x = "<suite>/<run name>"\n', False),  # a path pattern, no HTML tag
        ('x = "a < b and c > d"\n', False),
        ('x = "{{ ds }}"\n', False),  # an Airflow template field, no markup
    ],
)
def test_the_inventory_finds_markup_built_by_string_formatting(tmp_path: Path, source: str, found: bool) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(source, encoding="utf-8")
    hits = [line for line, text in _literals(probe) if TAG.search(text) or INLINE_TEMPLATE.search(text) and "<" in text]
    assert bool(hits) is found, source


def test_templates_keep_escaping_on() -> None:
    """Every template is autoescaped (``.html.j2``/``.xml.j2``) and none switches escaping off or marks
    data safe; the one exception, a plain-text e-mail body (``.txt.j2``, a text/plain MIME part where
    ``&`` must stay ``&``), is the twin of an HTML body."""
    from di_ops.core.templating import environment

    names = sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*") if p.is_file())
    assert names, "no templates found"
    for name in names:
        assert name.endswith((".html.j2", ".xml.j2", ".txt.j2")), name
        assert environment().autoescape(name) is (not name.endswith(".txt.j2")), name
        if name.endswith(".txt.j2"):
            assert name.removesuffix(".txt.j2") + ".html.j2" in names, f"{name} has no HTML twin"
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", text), name


def test_no_markup_object_or_inline_template_in_python() -> None:
    """``Markup`` around input text would switch escaping off; templates come from files, not strings."""
    offenders = []
    for path in _python_files():
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(REPO).as_posix()
        if re.search(r"\bMarkup\(|\.from_string\(|jinja2\.Template\(", source) and rel not in INLINE_ALLOWED:
            offenders.append(rel)
    assert offenders == []


def test_every_rendered_template_exists() -> None:
    """Each ``render("name")`` (or the console's ``_page("name")``) of the package names a file in
    ``templates/``; a template no code renders is still used when a rendered one extends, imports
    or includes it."""
    used = set()
    for path in _python_files():
        used |= set(re.findall(r"(?:render|_page)\(\s*\"([^\"]+\.j2)\"", path.read_text(encoding="utf-8")))
    assert used, "no render() calls found"
    assert {name for name in used if not (TEMPLATES / name).is_file()} == set()
    for name in sorted(used):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"{%-?\s*(?:extends|import|include|from)\s+\"([^\"]+\.j2)\"", text))
    unused = {p.name for p in TEMPLATES.glob("*.j2")} - used
    assert unused == set(), f"templates nothing renders: {unused}"
