"""The HTML templates of judgecal: one base layout and one stylesheet for every page.

``base.html`` is the layout of every HTML page the package writes or serves: the calibration
report (``calibration.html``, self-contained: the stylesheet inline) and the pages of the
session web app (``judgecal session serve``, which links the same stylesheet as
``/static/session.css``, as its Content-Security-Policy allows no inline style).
``macros.html`` holds the table macro. The files ship as package data beside this module.

Templates are rendered with autoescaping on (:func:`environment`); the stylesheet is passed
to the base layout as markup (:func:`stylesheet`), as it is the package's own text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

#: The directory holding the templates and the stylesheet (a Jinja loader's search path).
DIRECTORY = Path(__file__).resolve().parent


@cache
def stylesheet() -> Markup:
    """The shared stylesheet (``style.css``), as markup for an inline ``<style>``.

    Returns
    -------
    markupsafe.Markup
        The CSS text, not escaped (it is the package's own file, not data).
    """
    from markupsafe import Markup

    return Markup((DIRECTORY / "style.css").read_text(encoding="utf-8"))


@cache
def environment() -> jinja2.Environment:
    """The Jinja environment of the reports: these templates, autoescaping on.

    Returns
    -------
    jinja2.Environment
        Loads templates by name from :data:`DIRECTORY`; every ``{{ value }}`` is
        HTML-escaped unless it is :class:`markupsafe.Markup`.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(DIRECTORY), autoescape=True, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True,
    )
