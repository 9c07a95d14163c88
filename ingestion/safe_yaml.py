"""YAML for the project's own configuration (source profiles, check suites, the dbt profile),
parsed with a bound on alias expansion.

PyYAML's safe loader builds a document whose aliases share one object, so a 500-byte file of
nested anchors ("billion laughs") parses quickly into a graph that expands to billions of nodes
as soon as anything walks it (validation, a copy, a JSON dump): 6.4 GB and 110 s. Anchors have
honest uses (a shared mapping of columns), so they are allowed while the document, with every
alias expanded, stays within `MAX_EXPANDED_NODES` nodes; beyond that it is refused before any
Python object is built.
"""

from __future__ import annotations

import yaml

# A large profile (every entity, every column mapped, value maps) is a few thousand nodes.
MAX_EXPANDED_NODES = 100_000


class YamlTooLarge(yaml.YAMLError):
    """The document expands (through its aliases) beyond MAX_EXPANDED_NODES nodes."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], limit: int) -> int:
    """Nodes in `node` with every alias expanded; memoized per node object, so linear in the
    document's text, and cut short as soon as `limit` is passed."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = limit + 1  # a node reached again while being measured: a recursive alias
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, sizes, limit)
        if total > limit:
            break
    sizes[id(node)] = total
    return total


def safe_load(text: str, max_nodes: int = MAX_EXPANDED_NODES):
    """yaml.safe_load, refusing a document that expands beyond `max_nodes` nodes."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, max_nodes) > max_nodes:
            raise YamlTooLarge(
                f"the document expands to more than {max_nodes:,} nodes through its aliases (&anchor/*alias); "
                "refused (a 'billion laughs' file?)"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()
