"""Message templates with Jinja2 (the `[templates]` extra, imported only when templates are used).

One template name gives the whole message, by a file convention in the templates directory:

    welcome.subject.txt   the Subject (optional; whitespace runs, line breaks included, become
                          one space)
    welcome.txt           the plain-text body (not escaped)
    welcome.html          the HTML body (autoescaped)

At least one of the two bodies must exist. When there is no text file, `compose_message`
derives the text part from the HTML (`html_to_text`). A variable the context lacks is an error
(`StrictUndefined`), raised as a `TemplateError` naming the file, the line and the variable.
Templates may refer to images next to them with `{{ inline_image("logo.png") }}`, which gives a
`cid:` URL and attaches the file once per message, however often it is referred to.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigurationError, TemplateError
from ._attachments import Attachment
from ._html_text import html_to_text

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "INLINE_IMAGE",
    "SUFFIXES",
    "RenderedTemplate",
    "TemplatedParts",
    "Templates",
    "apply_template",
]

SUFFIXES = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}
"""The file of each part of template NAME is NAME + suffix."""

INLINE_IMAGE = "inline_image"
"""The function templates call to show an image inline; a context may not use this name."""

_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no (?:attribute|element) '?([^']+?)'?$")
_CID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class RenderedTemplate(NamedTuple):
    """What one template name rendered to; a part whose file does not exist is None.

    Attributes:
        subject: the rendered NAME.subject.txt, whitespace runs made one space.
        text: the rendered NAME.txt, the plain-text body (not escaped).
        html: the rendered NAME.html, the HTML body (autoescaped).
        inline_images: the images the template referred to with `inline_image(...)`, once
            each.
    """

    subject: str | None
    text: str | None
    html: str | None
    inline_images: tuple[Attachment, ...]


def _jinja() -> Any:
    try:
        import jinja2
    except ImportError:
        raise ConfigurationError(
            "message templates need Jinja2, which is not installed",
            hint="pip install 'gmail-send[templates]'",
        ) from None
    return jinja2


class Templates:
    """Jinja2 templates for messages: `template="welcome"` renders welcome.subject.txt,
    welcome.txt and welcome.html (see the module docs of `gmail_send.message`).

    Give it to a sender as `templates=` (or set `GMAIL_SEND_TEMPLATES` to the directory) and
    send with `template=` and `context=`. Explicit `subject`, `text` or `html` win over the
    template's.

    Args:
        directory: the folder holding the templates (and, by default, their images).
        environment: instead of `directory`, a `jinja2.Environment` the application already
            has (its loader, filters and globals are used). gmail_send renders through an
            overlay of it with `StrictUndefined` and `select_autoescape()`: HTML escaped,
            text and subject not, a missing variable an error. The environment itself is left
            as it is.
        images: the folder `inline_image(...)` reads from (default: `directory`).

    Raises:
        ConfigurationError: Jinja2 is not installed, a folder does not exist, or neither or
            both of `directory` and `environment` are given.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        environment: jinja2.Environment | None = None,
        images: str | os.PathLike[str] | None = None,
    ) -> None:
        if (directory is None) == (environment is None):
            raise ConfigurationError("give Templates either a directory or an environment")
        jinja2 = _jinja()
        if directory is not None:
            self.directory: Path | None = _folder(directory, "templates directory")
            base = jinja2.Environment(
                loader=jinja2.FileSystemLoader(self.directory),
                auto_reload=False,
            )
        else:
            if not isinstance(environment, jinja2.Environment):
                raise ConfigurationError(
                    f"environment must be a jinja2.Environment, not {type(environment).__name__}"
                )
            self.directory = None
            base = environment
        self.images = _folder(images, "images directory") if images is not None else self.directory
        self._environment = base.overlay(
            undefined=jinja2.StrictUndefined, autoescape=jinja2.select_autoescape()
        )
        self._parts: dict[str, tuple[Any, Any, Any]] = {}

    def __repr__(self) -> str:
        where = str(self.directory) if self.directory is not None else "environment"
        return f"Templates({where!r})"

    def render(self, name: str, context: Mapping[str, Any] | None = None) -> RenderedTemplate:
        """Render template `name` with `context`.

        Args:
            name: the template's name, without suffix ("welcome", "orders/shipped").
            context: the variables the templates use.

        Raises:
            TemplateError: no such template, a syntax error, or a variable `context` lacks.
        """
        if not isinstance(name, str) or not name:
            raise TemplateError(f"template must be a non-empty string, not {name!r}")
        if context is None:
            context = {}
        if not isinstance(context, Mapping):
            raise TemplateError(
                f"context must be a mapping of names to values, not {type(context).__name__}",
                template=name,
            )
        if INLINE_IMAGE in context:
            raise TemplateError(
                f"the context may not define {INLINE_IMAGE!r}: templates call it to show "
                "an image inline",
                template=name,
                variable=INLINE_IMAGE,
            )
        images = _InlineImages(self.images)
        variables = {**context, INLINE_IMAGE: images}
        subject, text, html = (
            _render(template, variables) if template is not None else None
            for template in self._templates(name)
        )
        if subject is not None:
            subject = " ".join(subject.split())
        return RenderedTemplate(subject, text, html, tuple(images.attachments))

    def _templates(self, name: str) -> tuple[Any, Any, Any]:
        cached = self._parts.get(name)
        if cached is not None:
            return cached
        jinja2 = _jinja()
        found: list[Any] = []
        for suffix in SUFFIXES.values():
            try:
                found.append(self._environment.get_template(name + suffix))
            except jinja2.TemplateNotFound:
                found.append(None)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"template {name + suffix} has a syntax error on line {exc.lineno}: "
                    f"{exc.message}",
                    template=name + suffix,
                ) from None
        subject, text, html = found
        if text is None and html is None:
            where = f" in {self.directory}" if self.directory is not None else ""
            raise TemplateError(
                f"no template {name!r}: neither {name}.txt nor {name}.html was found{where}",
                template=name,
                hint="a template is NAME.txt and/or NAME.html, with NAME.subject.txt optional",
            )
        parts = (subject, text, html)
        if not self._environment.auto_reload:
            self._parts[name] = parts
        return parts


def _render(template: Any, variables: Mapping[str, Any]) -> str:
    jinja2 = _jinja()
    try:
        return str(template.render(variables))
    except jinja2.UndefinedError as exc:
        found = _UNDEFINED.search(str(exc.message or ""))
        variable = next((g for g in found.groups() if g), None) if found else None
        line = _line_of(exc, template.filename)
        where = f"{template.name}{f' (line {line})' if line else ''}"
        raise TemplateError(
            f"template {where} uses {variable or 'a variable'!r}, which the context lacks"
            if variable
            else f"template {where}: {exc.message}",
            template=template.name,
            variable=variable,
            hint="add it to context=, or give it a default: {{ name | default('') }}",
        ) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"template {template.name} did not render: {exc.message}", template=template.name
        ) from None


def _line_of(exc: BaseException, filename: str | None) -> int | None:
    """The template line being rendered when `exc` was raised (Jinja rewrites its frames)."""
    if filename is None:
        return None
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def _folder(path: str | os.PathLike[str], what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(f"the {what} must be a path, not {type(path).__name__}")
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigurationError(
            f"the {what} {folder} does not exist or is not a directory",
            hint="give the folder that holds the NAME.txt / NAME.html files",
        )
    return folder


class _InlineImages:
    """`inline_image(path)` for one message: each file attached once, under one Content-ID."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._ids: dict[Path, str] = {}
        self.attachments: list[Attachment] = []

    def __call__(self, path: str) -> str:
        if self._folder is None:
            raise TemplateError(
                f"{INLINE_IMAGE}({path!r}): these Templates have no images folder",
                hint="create them with Templates(..., images=FOLDER)",
            )
        folder = self._folder.resolve()
        location = (folder / path).resolve()
        if not location.is_relative_to(folder):
            raise TemplateError(f"{INLINE_IMAGE}({path!r}) points outside {self._folder}")
        content_id = self._ids.get(location)
        if content_id is None:
            stem = _CID_UNSAFE.sub("-", location.stem).strip("-") or "image"
            content_id = f"{len(self._ids) + 1}.{stem}@inline"
            self._ids[location] = content_id
            self.attachments.append(
                Attachment.from_path(location, inline=True, content_id=content_id)
            )
        return f"cid:{content_id}"


class TemplatedParts(NamedTuple):
    """The subject and bodies of a message once its template is applied."""

    subject: str
    text: str | None
    html: str | None
    inline_images: tuple[Attachment, ...]


def apply_template(
    templates: Templates | None,
    template: str | None,
    context: Mapping[str, Any] | None,
    *,
    subject: str,
    text: str | None,
    html: str | None,
) -> TemplatedParts:
    """The message's subject and bodies: explicit ones win over the template's; with a
    template and no text at all, the text is derived from the HTML."""
    if template is None:
        if context is not None:
            raise TemplateError("context= is given without template=")
        return TemplatedParts(subject, text, html, ())
    if templates is None:
        raise ConfigurationError(
            f"template={template!r} is given, but the sender has no templates",
            hint="create the sender with templates=Templates(FOLDER) (or a folder path), or "
            "set GMAIL_SEND_TEMPLATES",
        )
    if not isinstance(templates, Templates):
        raise ConfigurationError(f"templates must be a Templates, not {type(templates).__name__}")
    rendered = templates.render(template, context)
    html = html if html is not None else rendered.html
    text = text if text is not None else rendered.text
    if text is None and html is not None:
        text = html_to_text(html)
    return TemplatedParts(subject or rendered.subject or "", text, html, rendered.inline_images)
