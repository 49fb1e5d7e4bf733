"""HTML and e-mail bodies from Jinja2 templates in ``di_ops/templates/``, autoescaped.

One environment for the package: ``autoescape`` is on for ``.html``, ``.xml`` and ``.j2``
templates (a value from the inventory or a request file can never add markup), undefined
names raise instead of rendering empty. Use :func:`render`::

    from di_ops.templating import render
    html = render("cop_notice.html.j2", customer_name=name, ...)

Loaded on first use (nothing at import): DAG files may import modules that import this one.
"""

from __future__ import annotations

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
    """Render the template ``name`` (a path under ``di_ops/templates/``) with ``context``."""
    return environment().get_template(name).render(**context)
