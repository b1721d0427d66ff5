"""Every parameter of the public API is documented in its docstring, so `help()` explains it.

For each name in `__all__` of the public modules: a function's parameters must be entries of an
`Args:` section (Google style, as mkdocstrings reads them); a class's constructor parameters
(dataclass and NamedTuple fields included) entries of an `Args:` or `Attributes:` section of the
class or `__init__` docstring; a public method's parameters entries of its own `Args:`.
`**kwargs: Unpack[...]` must be an entry too (`**options: ...`). Exceptions are left out: their
arguments are the message and the fields their own docstrings describe.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any, is_typeddict

import pytest

PUBLIC_MODULES = [
    "gmail_send",
    "gmail_send.auth",
    "gmail_send.cli",
    "gmail_send.config",
    "gmail_send.contrib.django",
    "gmail_send.contrib.fastapi",
    "gmail_send.doctor",
    "gmail_send.errors",
    "gmail_send.events",
    "gmail_send.merge",
    "gmail_send.message",
    "gmail_send.queue",
    "gmail_send.smtp",
    "gmail_send.store",
    "gmail_send.sync",
    "gmail_send.testing",
]

# Parameters not documented yet, as "module.Name.method(parameter)". Empty: every parameter of
# the public API is documented; a new one is documented with it.
NOT_YET_DOCUMENTED: set[str] = set()

_SECTIONS = {
    "args",
    "arguments",
    "params",
    "parameters",
    "keyword args",
    "keyword arguments",
    "other parameters",
    "attributes",
}
_HEADING = re.compile(r"^(\s*)([A-Za-z ]+):\s*$")
_ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:")


def documented(doc: str | None) -> set[str]:
    """The names given an entry in the `Args:`-like sections of a docstring."""
    names: set[str] = set()
    lines = inspect.cleandoc(doc or "").splitlines()
    section_indent: int | None = None
    entry_indent: int | None = None
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        heading = _HEADING.match(line)
        if heading and heading.group(2).strip().lower() in _SECTIONS:
            section_indent, entry_indent = indent, None
            continue
        if section_indent is None:
            continue
        if indent <= section_indent:
            section_indent = None  # the section ended
            continue
        if entry_indent is None:
            entry_indent = indent
        if indent == entry_indent and (entry := _ENTRY.match(line.strip())):
            names.add(entry.group(1))
    return names


def _unpacked(parameter: inspect.Parameter) -> bool:
    return "Unpack[" in str(parameter.annotation)


def required(signature: inspect.Signature) -> Iterator[str]:
    """The entry each parameter needs: `name`, or `**name` for keywords typed with `Unpack`."""
    for parameter in signature.parameters.values():
        if parameter.name in ("self", "cls"):
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            if _unpacked(parameter):
                yield f"**{parameter.name}"
        elif parameter.kind is parameter.VAR_POSITIONAL:
            continue  # none in the public API takes *args that need a name
        else:
            yield parameter.name


def _signature(obj: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def targets() -> Iterator[tuple[str, inspect.Signature, set[str]]]:
    """(qualified name, signature, documented names) of every public callable."""
    seen: set[int] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen:
                continue  # a re-export: checked under the first module that lists it
            seen.add(id(obj))
            qualified = f"{module_name}.{name}"
            if inspect.isclass(obj):
                if issubclass(obj, BaseException) or is_typeddict(obj):
                    # TypedDicts point to the function that takes the keywords: checked below.
                    continue
                yield from _class_targets(qualified, obj)
            elif inspect.isfunction(obj):
                signature = _signature(obj)
                if signature is not None:
                    yield qualified, signature, documented(obj.__doc__)


def _class_targets(
    qualified: str, cls: type[Any]
) -> Iterator[tuple[str, inspect.Signature, set[str]]]:
    init = cls.__dict__.get("__init__")
    names = documented(cls.__doc__) | documented(getattr(init, "__doc__", None))
    signature = _signature(cls)
    if signature is not None and not _is_generic_signature(signature):
        yield qualified, signature, names
    for member_name, member in vars(cls).items():
        if member_name.startswith("_"):
            continue
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if inspect.isfunction(function) and (signature := _signature(function)) is not None:
            yield f"{qualified}.{member_name}", signature, documented(function.__doc__)


def _is_generic_signature(signature: inspect.Signature) -> bool:
    """`(*args, **kwargs)`: a Protocol's or a class without an `__init__` of its own."""
    kinds = [p.kind for p in signature.parameters.values()]
    return kinds == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]


def missing() -> list[str]:
    found = []
    for qualified, signature, names in targets():
        found += [f"{qualified}({entry})" for entry in required(signature) if entry not in names]
    return sorted(found)


def test_every_public_parameter_is_documented() -> None:
    undocumented = [entry for entry in missing() if entry not in NOT_YET_DOCUMENTED]
    assert not undocumented, "document these parameters in an Args: section:\n" + "\n".join(
        undocumented
    )


def test_the_not_yet_documented_list_is_current() -> None:
    stale = NOT_YET_DOCUMENTED - set(missing())
    assert not stale, f"documented now, remove from NOT_YET_DOCUMENTED: {sorted(stale)}"


@pytest.mark.parametrize(
    ("typed_dict", "documented_by"),
    [
        ("gmail_send.MessageFields", "gmail_send.message.compose_message"),
        ("gmail_send.SenderOptions", "gmail_send.Settings"),
    ],
)
def test_keyword_types_point_to_documented_parameters(typed_dict: str, documented_by: str) -> None:
    """A TypedDict's docstring sends the reader elsewhere; every key must be documented there."""
    keys = set(_resolve(typed_dict).__annotations__)
    target = _resolve(documented_by)
    names = documented(target.__doc__) | documented(getattr(target.__init__, "__doc__", None))
    names |= {key for key in keys if f"{documented_by}({key})" in NOT_YET_DOCUMENTED}
    assert keys <= names, f"{documented_by} does not document {sorted(keys - names)}"


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_documented_recognizes_google_sections() -> None:
    doc = """Summary.

    Args:
        first: one.
        second (int): two,
            continued: not an entry.
        **options: three.

    Returns:
        result: not a parameter.
    """
    assert documented(doc) == {"first", "second", "**options"}
