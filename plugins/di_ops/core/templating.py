"""HTML and e-mail bodies from Jinja2 templates in ``di_ops/core/templates/``, autoescaped.

One environment for the package: ``autoescape`` is on for every template (a value from the
inventory or a request file can never add markup) but the plain-text e-mail bodies, ``*.txt.j2``,
which only ever fill a ``text/plain`` MIME part (there ``&`` must stay ``&``); undefined names
raise instead of rendering empty. Use :func:`render`::

    from di_ops.core.templating import render
    html = render("cop_notice.html.j2", customer_name=name, ...)
    text = render("cop_notice.txt.j2", customer_name=name, ...)

The filter ``sentence`` ends a free text (a note, a trigger's reason) with a full stop, so a
notice never runs two sentences together.

Loaded on first use (nothing at import): DAG files may import modules that import this one.
A mail subject is a header, not markup: pass any inventory or request value in it through
:func:`one_line` (a CR/LF would start a new header).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
PLAIN_TEXT = ".txt.j2"


def escapes(name: str | None) -> bool:
    """Autoescape for every template but a plain-text body (``*.txt.j2``); strings are escaped too."""
    return name is None or not name.endswith(PLAIN_TEXT)


def sentence(text: object) -> str:
    """``text`` stripped, ending with a full stop unless it ends with ``.``, ``!`` or ``?`` already."""
    stripped = str(text).strip()
    return stripped if not stripped or stripped.endswith((".", "!", "?")) else f"{stripped}."


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The package's Jinja2 environment (templates folder, autoescape, strict undefined)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=escapes,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["sentence"] = sentence
    return env


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` (a path under ``di_ops/core/templates/``) with ``context``."""
    return environment().get_template(name).render(**context)


def one_line(text: object) -> str:
    """``text`` for a mail header: control characters (a CR/LF would start a new header) become
    spaces, runs of white space one space."""
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(text)).split())
