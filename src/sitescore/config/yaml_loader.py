"""Reading YAML the way the config and catalog need it: safely, keeping every key's line, with a
bound on what aliases may expand to, and with one-line errors that name the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

#: Most YAML nodes that aliases (*name) may expand to in one file: a "billion laughs" of nested
#: aliases would otherwise construct millions of values from a kilobyte of text.
MAX_ALIAS_NODES = 10_000


class AliasError(yaml.composer.ComposerError):
    """Aliases that refer to themselves or expand past MAX_ALIAS_NODES."""


class LineLoader(yaml.SafeLoader):
    """Safe YAML loader that remembers the line of every mapping key, for error messages.

    It also counts the nodes every alias (*name) stands for, nested aliases included, and stops
    at MAX_ALIAS_NODES: a kilobyte of nested aliases (a "billion laughs") would otherwise expand
    to a billion values in the manifest, the key index and every walk over the config.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_nodes = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open_anchors:
                raise AliasError(None, None, f"alias *{event.anchor} refers to the value it is "
                                  "part of (an endless value)", event.start_mark)
            node = self._compose(parent, index)
            self._alias_nodes += self._size(node)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise AliasError(None, None, f"YAML aliases expand to more than "
                                  f"{MAX_ALIAS_NODES:,} values by alias *{event.anchor} here; "
                                  "write the values out or use fewer aliases", event.start_mark)
            return node
        anchor = self.peek_event().anchor
        if anchor is None:
            return self._compose(parent, index)
        self._open_anchors.add(anchor)
        try:
            return self._compose(parent, index)
        finally:
            self._open_anchors.discard(anchor)

    def _compose(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        """PyYAML's own compose_node, typed as it behaves: a mapping value's `index` is its key
        node (not an int), and it returns a node or raises (never None)."""
        node = super().compose_node(parent, index)  # type: ignore[arg-type]  # stub says int
        assert node is not None  # PyYAML returns a node or raises
        return node

    def _size(self, root: yaml.Node) -> int:
        """Nodes in `root` with every alias inside it expanded (memoised; no recursion)."""
        sizes = self._sizes
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in sizes:
                continue
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            if children_done:
                sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in children if id(c) not in sizes)
        return sizes[id(root)]


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> dict:
    """A mapping as a LineDict; a key given twice is an error (YAML would keep the last)."""
    seen: dict[str, int] = {}
    for key_node, _ in node.value:  # YAML keeps the last of a repeated key without a word
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key_node.value}' is given twice, on lines "
                    f"{seen[key_node.value]} and {line}", key_node.start_mark)
            seen[key_node.value] = line
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    return LineDict(mapping, lines)


class LineDict(dict):
    """A YAML mapping that also knows the line of each of its keys (`lines[key]`)."""

    def __init__(self, mapping: dict, lines: dict) -> None:
        super().__init__(mapping)
        self.lines = lines


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(doc: Any, loc: tuple) -> int | None:
    """The YAML line of the key at `loc` (a path of keys and list indices) in a document read
    with LineLoader, or of the nearest enclosing key the file has; None when there is none."""
    line = None
    node = doc
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


def read_yaml(path: Path, what: str = "config") -> Any:
    """A YAML file read with LineLoader; every way it can fail is one ConfigError naming the
    file (and line). `what` names the file in the message ("config", "preset")."""
    if not path.exists():
        raise ConfigError(f"{what} file not found", file=path)
    if not path.is_file():
        raise ConfigError(f"{what} is not a file", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it ({exc.strerror})", file=path) from None
    try:
        doc = yaml.load(text, Loader=LineLoader)  # a SafeLoader
    except yaml.reader.ReaderError as exc:  # a control character: the file is no YAML text
        line = text[:exc.position].count("\n") + 1
        raise ConfigError(f"not valid YAML (character {exc.character!r} is not allowed)",
                          file=f"{path}, line {line}") from None
    except AliasError as exc:  # raised by LineLoader, always with its problem and mark
        where = f"{path}, line {exc.problem_mark.line + 1}" if exc.problem_mark else str(path)
        raise ConfigError(exc.problem or str(exc), file=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"not valid YAML ({problem})", file=where) from None
    except Exception as exc:  # PyYAML trips on '!!float' alone
        raise ConfigError(f"not valid YAML ({type(exc).__name__} reading a value)",
                          file=path) from None
    return doc
