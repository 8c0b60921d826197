"""YAML for config files, read so that no input can hang or crash the reader.

PyYAML's ``safe_load`` constructs no Python objects beyond plain data, but it still accepts
documents whose size is out of all proportion to the text:

* aliases (``*name``) share one node, so nine nested anchors of nine aliases each ("billion
  laughs") are a few hundred bytes that any walk over the data (validation, ``repr``) sees as
  387 million leaves;
* nesting (``[[[[...``) is composed by recursion, so a deep enough file is a
  ``RecursionError``;
* integers are converted with ``int()``, which refuses decimal text over 4300 digits with a
  ``ValueError`` and takes quadratic time on sexagesimal text (``1:2:3:...``);
* a bad timestamp or an explicit ``!!bool maybe`` escapes as a ``ValueError`` or
  ``KeyError``, not a ``YAMLError``.

:func:`parse` composes the document itself and refuses, with the line and column and the path
of keys that lead there, an expansion through aliases beyond :data:`MAX_ALIASED_NODES`, an
alias inside the node it names, more than :data:`MAX_NODES` values in all, nesting deeper
than :data:`MAX_DEPTH`, integer text longer than :data:`MAX_INT_CHARS` and any tag beyond the
plain YAML types. Events come from libyaml
when PyYAML has it (about four times faster than the pure-Python parser) and from the
pure-Python parser otherwise; the checks are the same Python code on both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

if TYPE_CHECKING:
    from yaml.events import Event, _Mark

MAX_DEPTH = 64
"""Levels of nesting (the top-level mapping is level 1, a scalar in it level 2)."""

MAX_NODES = 100_000
"""Values (scalars, lists and mappings, aliases expanded) in one document: twenty times the
biggest plausible config (three venues of 2000 symbols each), and few enough that reading and
validating them takes well under a second where 1 MiB of one-character list items (half a
million values) took several."""

MAX_ALIASED_NODES = 10_000
"""Nodes that all aliases of a document together may add to it once expanded: plenty for
sharing a policy between venues, nowhere near an explosion."""

MAX_INT_CHARS = 100
"""Longest integer text converted; the widest field is a 64-bit seed (20 digits, or 66
characters in binary), so anything longer is out of range for every field."""

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(
    _CORE + name
    for name in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp", "merge")
)
"""What a config value may be: the plain YAML types (a merge key ``<<`` included). Dates are
kept because an unquoted ``2024-01-01`` resolves to one; a field then rejects it by type."""


class YamlRefused(yaml.YAMLError):
    """Well-formed YAML that a config may not contain.

    ``path`` is the keys and indexes that lead to it from the top (empty at the top level);
    ``line`` and ``column`` count from 1 (None when unknown).
    """

    def __init__(self, problem: str, mark: _Mark | None, path: tuple[int | str, ...]) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None


def tag_name(tag: str) -> str:
    """A tag as it would be written in YAML (``!!python/object`` rather than the full URI)."""
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _CheckedComposer(Composer, SafeConstructor, Resolver):
    """PyYAML's composer and safe constructor with the bounds of the module docstring.

    Each node's expanded size and height are tallied as it is composed, so an alias costs
    what its anchor's subtree costs without walking it again.
    """

    def __init__(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        # [nodes, height] below each node being composed; the first entry is above the root.
        self._frames: list[list[int]] = [[0, 0]]
        self._path: list[int | str] = []
        # (expanded size, height) of each anchored node composed so far.
        self._costs: dict[str, tuple[int, int]] = {}
        self._aliased = 0
        self._nodes = 0

    if TYPE_CHECKING:
        # Supplied by the parser half of each loader (libyaml's or PyYAML's own).
        def peek_event(self) -> Event | None: ...

    def _compose(self, parent: Node | None, index: int | Node | None) -> Node | None:
        # The stub types index as int; PyYAML passes a mapping value's key node there too.
        return super().compose_node(parent, index)  # type: ignore[arg-type]

    def _refuse(self, problem: str, mark: _Mark | None) -> YamlRefused:
        return YamlRefused(problem, mark, tuple(self._path))

    def _count(self, nodes: int, mark: _Mark | None) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise self._refuse(f"more than {MAX_NODES} values in one file", mark)

    def _tally(self, size: int, height: int) -> None:
        parent = self._frames[-1]
        parent[0] += size
        parent[1] = max(parent[1], height)

    def compose_node(self, parent: Node | None, index: int | Node | None) -> Node | None:
        """Composes the next node as PyYAML does, refusing what the module docstring lists."""
        part = _path_part(parent, index)
        if part is not None:
            self._path.append(part)
        event = self.peek_event()
        if not isinstance(event, NodeEvent):  # the parser only asks for a node where one is
            raise self._refuse("expected a node", event.start_mark if event else None)
        node = (
            self._compose_alias(parent, index, event)
            if isinstance(event, AliasEvent)
            else self._compose_new(parent, index, event)
        )
        if part is not None:
            self._path.pop()
        return node

    def _compose_alias(
        self, parent: Node | None, index: int | Node | None, event: NodeEvent
    ) -> Node | None:
        anchor = event.anchor or ""  # an alias always has a name
        cost = self._costs.get(anchor)
        if cost is None:
            if anchor in self.anchors:
                raise self._refuse(
                    f"alias *{anchor} is inside the node it names (a recursive structure)",
                    event.start_mark,
                )
            return self._compose(parent, index)  # PyYAML names the undefined alias
        size, height = cost
        depth = len(self._frames) - 1 + height
        if depth > MAX_DEPTH:
            raise self._refuse(
                f"alias *{anchor} nests deeper than {MAX_DEPTH} levels", event.start_mark
            )
        self._count(size, event.start_mark)
        self._aliased += size
        if self._aliased > MAX_ALIASED_NODES:
            raise self._refuse(
                f"aliases expand to more than {MAX_ALIASED_NODES} nodes (at *{anchor})",
                event.start_mark,
            )
        self._tally(size, height)
        return self._compose(parent, index)

    def _compose_new(
        self, parent: Node | None, index: int | Node | None, event: NodeEvent
    ) -> Node | None:
        if len(self._frames) > MAX_DEPTH:
            raise self._refuse(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._count(1, event.start_mark)
        self._frames.append([0, 0])
        node = self._compose(parent, index)
        below, height_below = self._frames.pop()
        size, height = below + 1, height_below + 1
        if event.anchor is not None:
            self._costs[event.anchor] = (size, height)
        self._tally(size, height)
        if node is not None:
            if node.tag not in ALLOWED_TAGS:
                raise self._refuse(
                    f"tag {tag_name(node.tag)} is not allowed (unsafe or not plain YAML data)",
                    node.start_mark,
                )
            if node.tag == _CORE + "int" and len(node.value) > MAX_INT_CHARS:
                raise self._refuse(
                    f"integer of {len(node.value)} characters is out of range "
                    f"(at most {MAX_INT_CHARS})",
                    node.start_mark,
                )
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping as PyYAML builds it, except that a key written twice is an error: the
        config models make a mistake an error, and last-wins would hide one."""
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, ScalarNode) and key.tag != _CORE + "merge":
                if key.value in seen:
                    raise ConstructorError(
                        None, None, f"key {key.value[:40]!r} appears twice", key.start_mark
                    )
                seen.add(key.value)
        return super().construct_mapping(node, deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Constructs ``node`` as PyYAML does; a value its constructor cannot read (a
        ``2024-13-45`` date, ``!!bool maybe``) is a ``ConstructorError`` at the node."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, OverflowError) as e:
            shown = repr(node.value)[:40] if isinstance(node, ScalarNode) else "a collection"
            # A KeyError's text is only the key (``!!bool maybe`` looks up "maybe").
            why = "no such value" if isinstance(e, KeyError) else str(e)
            raise ConstructorError(
                None, None, f"cannot read {shown} as {tag_name(node.tag)}: {why}", node.start_mark
            ) from e


def _path_part(parent: Node | None, index: int | Node | None) -> int | str | None:
    """The step from ``parent`` to the node at ``index``: a sequence index, a key's text, or
    None for the root and for a mapping key (which sits at its mapping's path)."""
    if parent is None or index is None:
        return None
    if isinstance(index, int):
        return index
    return index.value if isinstance(index, ScalarNode) else "?"


class _Loader(Protocol):
    def get_single_data(self) -> Any: ...
    def dispose(self) -> None: ...


class _PureLoader(_CheckedComposer, Reader, Scanner, Parser):
    """The checks over PyYAML's pure-Python reader, scanner and parser."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _CheckedComposer.__init__(self)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLoader(_CheckedComposer, CParser):
        """The checks over libyaml's parser; ``_CheckedComposer`` comes first so that its
        composer, not libyaml's, builds the nodes."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _CheckedComposer.__init__(self)


def parse(text: str, *, pure: bool = False) -> Any:
    """The data of the single YAML document in ``text`` (None when it is empty).

    ``pure`` uses the pure-Python parser even when libyaml is there (the tests read every
    hostile case with both).

    Raises:
        YamlRefused: the document is well-formed but breaks a bound (see the module docstring).
        yaml.YAMLError: the text is not YAML, or a value is not what its tag says.
    """
    loader: _Loader = _PureLoader(text) if pure or not yaml.__with_libyaml__ else _FastLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
