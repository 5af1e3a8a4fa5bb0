"""YAML for files a user hands to ``nas`` (search spaces): PyYAML's safe loader with three more refusals.

``yaml.safe_load`` builds only plain data (no Python objects, no code), but it has no bounds: aliases are
shared references that expand on use, so nine nested levels of ``&aN [*aN-1, ...]`` (the "billion laughs",
847 bytes) become billions of nodes as soon as anything walks the value, and a repeated key silently
replaces the earlier one (a second ``scheme:`` section wins). ``load`` therefore refuses, each with one line
naming the line of the file:

- more than ``MAX_ALIASES`` alias uses, or aliases that would expand the document beyond ``MAX_NODES``
  nodes (counted while composing, before anything is expanded), and recursive aliases;
- a key repeated in one mapping, at any depth (``<<`` merge keys keep YAML's override semantics);
- files over ``MAX_BYTES`` (checked before reading), and values nested deeper than Python's recursion limit.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .messages import quote

MAX_BYTES = 1024 * 1024  # a search space is a few kilobytes
MAX_ALIASES = 100
MAX_NODES = 10_000  # nodes of the document with every alias expanded

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YAMLRefused(yaml.YAMLError):
    """A YAML document ``nas`` refuses to build (``problem`` at ``problem_mark``)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that counts alias uses and expanded nodes and refuses duplicate keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0
        self._nodes = 0  # nodes composed so far, aliases counted with their expanded size
        self._sizes: dict[str, int] = {}  # anchor -> expanded size of its node
        self._open: set[str] = set()  # anchors whose node is still being composed

    def _count(self, nodes: int, mark) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise YAMLRefused(f"aliases expand the document to more than {MAX_NODES:,} nodes; nas refuses "
                              "alias expansion beyond that (write the values out instead)", mark)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YAMLRefused(f"more than {MAX_ALIASES} aliases; nas refuses alias expansion beyond that",
                                  event.start_mark)
            if event.anchor in self._open:
                raise YAMLRefused(f"alias *{event.anchor} refers to a value that contains it (recursive)",
                                  event.start_mark)
            node = super().compose_node(parent, index)  # the anchored node itself: undefined aliases fail here
            self._count(self._sizes.get(event.anchor, 1), event.start_mark)
            return node
        anchor, before = event.anchor, self._nodes
        self._count(1, event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        node = super().compose_node(parent, index)
        if anchor is not None:
            self._open.discard(anchor)
            self._sizes[anchor] = self._nodes - before
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue  # merge keys override by design; complex keys fail in PyYAML itself
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue
                if first is not key_node:
                    raise YAMLRefused(f"duplicate key {quote(key)} (first at line {first.start_mark.line + 1}); "
                                      "each key may appear once in a mapping", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def loads(text: str, label: str):
    """The data of one YAML document; a ``ValueError`` ``"<label>: ..."`` for anything refused."""
    if len(text) > MAX_BYTES:
        raise ValueError(f"{label}: larger than {MAX_BYTES:,} characters; a search space is a small file")
    try:
        return yaml.load(text, Loader=BoundedSafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except YAMLRefused as exc:
        raise ValueError(f"{label}: {_where(exc.problem_mark)}{exc.problem}") from None
    except RecursionError:
        raise ValueError(f"{label}: values nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{label}: not valid YAML: {_where(mark)}{problem}") from None


def load_file(path, label: str | None = None):
    """``loads`` of a file, refusing files over ``MAX_BYTES`` before reading them."""
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"{label}: {size:,} bytes, larger than the limit of {MAX_BYTES:,}; a search space "
                             "is a small file")
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{label}: cannot read the file: {exc}") from None
    return loads(text, label)


def _where(mark) -> str:
    return "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: "


__all__ = ["loads", "load_file", "BoundedSafeLoader", "YAMLRefused", "MAX_BYTES", "MAX_ALIASES", "MAX_NODES"]
