"""HTML and e-mail bodies from Jinja2 templates in ``di_ops/core/templates/``, autoescaped.

One environment for the package: ``autoescape`` is on for ``.html``, ``.xml`` and ``.j2``
templates (a value from the inventory or a request file can never add markup), undefined
names raise instead of rendering empty. Use :func:`render`::

    from di_ops.core.templating import render
    html = render("cop_notice.html.j2", customer_name=name, ...)

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


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The package's Jinja2 environment (templates folder, autoescape, strict undefined)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` (a path under ``di_ops/core/templates/``) with ``context``."""
    return environment().get_template(name).render(**context)


def one_line(text: object) -> str:
    """``text`` for a mail header: control characters (a CR/LF would start a new header) become
    spaces, runs of white space one space."""
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(text)).split())
