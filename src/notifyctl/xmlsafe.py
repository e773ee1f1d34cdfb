"""Safe XML parsing for untrusted bodies (SOAP callbacks, XML-templated Sigfox bodies).

Built on stdlib expat with every declaration refused: a DOCTYPE, an ENTITY declaration (general
or parameter), an unparsed entity or an external entity reference stops the parse at once with
``XMLRefused``. Refusing the DOCTYPE itself means no entity is ever declared, so an entity bomb
("billion laughs") or an external entity (XXE) is rejected before any expansion, in time and
memory bounded by the input size. Nesting is capped too, so consumers may recurse.

The result is an ``xml.etree.ElementTree.Element`` with ``{namespace}local`` tags, built by the
stdlib ``TreeBuilder`` (no parsing happens in ElementTree itself).
"""

from __future__ import annotations

from typing import NoReturn
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from notifyctl.errors import WireError

MAX_DEPTH = 256


class XMLRefused(WireError):
    """The body is not well-formed XML, or uses a feature we refuse (DTDs, entities)."""


class _Builder:
    """Expat callbacks feeding a TreeBuilder; declaration callbacks abort the parse."""

    def __init__(self, max_depth: int) -> None:
        self.tree = TreeBuilder()
        self.depth = 0
        self.max_depth = max_depth

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise XMLRefused(f"XML nested deeper than {self.max_depth} elements")
        self.tree.start(_clark(name), {_clark(k): v for k, v in attrs.items()})

    def end(self, name: str) -> None:
        self.depth -= 1
        self.tree.end(_clark(name))

    def data(self, text: str) -> None:
        self.tree.data(text)

    @staticmethod
    def refuse_doctype(*_args: object) -> NoReturn:
        raise XMLRefused("XML with a DOCTYPE is refused (no DTDs or entity declarations)")

    @staticmethod
    def refuse_entity(*_args: object) -> NoReturn:
        raise XMLRefused("XML entity declarations and external entities are refused")


def _clark(name: str) -> str:
    """Expat's ``uri}local`` (namespace_separator ``}``) to ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def parse(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Element:
    """Parse one XML document; ``XMLRefused`` says what is wrong (line and column)."""
    builder = _Builder(max_depth)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.ordered_attributes = False
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = builder.refuse_doctype
    parser.EntityDeclHandler = builder.refuse_entity
    parser.UnparsedEntityDeclHandler = builder.refuse_entity
    parser.ExternalEntityRefHandler = builder.refuse_entity
    parser.NotationDeclHandler = builder.refuse_entity
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XMLRefused(f"malformed XML: {expat.errors.messages[exc.code]} "
                         f"at line {exc.lineno}, column {exc.offset + 1}") from exc
    root: Element = builder.tree.close()
    return root


def local(tag: str) -> str:
    """The local part of a ``{namespace}local`` tag."""
    return tag.rpartition("}")[2]


def child_text(element: Element, name: str) -> str | None:
    """Text of the first direct child whose local name is ``name`` (any namespace)."""
    for child in element:
        if local(child.tag) == name:
            return child.text
    return None
