"""Topology files: save and load :class:`networkx.Graph` topologies as JSON or GraphML.

Both loaders check a file strictly before returning it: structure first (required fields,
duplicate node ids, links to unknown nodes, self-loops, duplicate links), then every value
through :func:`~qnetrl.network.topology.validate_topology`. A bad file fails with
:class:`~qnetrl.network.topology.TopologyError`, whose message starts with the file path and
names the element, e.g. ``"net.json: link 3 (A-Z): unknown node 'Z'."``. Files are written
atomically (to a temporary file that then replaces the target).

JSON format (field names are the constants of :class:`~qnetrl.network.topology.Topology`)::

    {
      "name": "tokyo_qkd",                   # graph attributes at top level (name, citation)
      "citation": "M. Sasaki et al., ...",
      "nodes": [                             # required; list of objects
        {"id": "Koganei", "name": "Koganei", "role": "trusted", "pos": [0.0, 0.0]},
        ...
      ],
      "links": [                             # required; list of objects
        {"source": "Koganei", "target": "Otemachi", "length_km": 45.0,
         "alpha_db_per_km": 0.3, "detector": "GYS", "protocol": "decoy-bb84"},
        ...
      ]
    }

A node needs ``id`` (str or int); a link needs ``source``, ``target`` and ``length_km``;
``alpha_db_per_km`` (0.2), ``detector`` ("GYS") and ``protocol`` ("decoy-bb84") take their
defaults when absent. Other attributes are kept as they are; ``pos`` is read back as a tuple.

GraphML is written with :func:`networkx.write_graphml`, which keeps the type of every str,
int, float and bool attribute. GraphML cannot store tuples or typed node ids, so ``pos`` is
stored as the two floats ``pos_x_km`` and ``pos_y_km``, node ids as strings, and the graph
attribute ``node_id_type`` (``"int"`` or ``"str"``) says how to read them back. Only str, int,
float and bool attribute values can be saved as GraphML.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, Final

import networkx as nx
import numpy as np

from qnetrl.network.topology import Topology, TopologyError, validate_topology

__all__ = ["load_graphml", "load_json", "save_graphml", "save_json"]

_LINK_DEFAULTS: Final[Mapping[str, Any]] = {
    Topology.ALPHA_DB_PER_KM: Topology.DEFAULT_ALPHA_DB_PER_KM,
    Topology.DETECTOR: Topology.DEFAULT_DETECTOR,
    Topology.PROTOCOL: Topology.DEFAULT_PROTOCOL,
}
_GRAPHML_NS: Final = "{http://graphml.graphdrawing.org/xmlns}"
_GRAPHML_SCALARS: Final = (str, bool, int, float)


# --------------------------------------------------------------------------------------------
# shared: document <-> graph
# --------------------------------------------------------------------------------------------


def _valid_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _link_label(index: int, record: Mapping[str, Any]) -> str:
    src = record.get(Topology.SOURCE, "?")
    tgt = record.get(Topology.TARGET, "?")
    return f"link {index} ({src}-{tgt})"


def _check_records(nodes: list[Any], links: list[Any], source: str) -> None:
    """Structural checks that need the file's order: ids, endpoints, duplicates, self-loops."""
    first_seen: dict[Hashable, int] = {}
    for i, record in enumerate(nodes):
        if not isinstance(record, Mapping):
            raise TopologyError(f"{source}: node {i}: must be an object. Got {record!r} instead.")
        if Topology.ID not in record:
            raise TopologyError(f"{source}: node {i}: missing required field {Topology.ID!r}.")
        node = record[Topology.ID]
        if not _valid_id(node):
            raise TopologyError(
                f"{source}: node {i}: {Topology.ID!r} must be a str or int. Got {node!r} instead."
            )
        if node in first_seen:
            raise TopologyError(
                f"{source}: node {i}: duplicate node id {node!r} (first defined as node "
                f"{first_seen[node]})."
            )
        first_seen[node] = i
    pairs: dict[frozenset[Hashable], int] = {}
    for i, record in enumerate(links):
        if not isinstance(record, Mapping):
            raise TopologyError(f"{source}: link {i}: must be an object. Got {record!r} instead.")
        label = f"{source}: {_link_label(i, record)}"
        for field in (Topology.SOURCE, Topology.TARGET):
            if field not in record:
                raise TopologyError(f"{label}: missing required field {field!r}.")
        ends = (record[Topology.SOURCE], record[Topology.TARGET])
        for end in ends:
            if not (_valid_id(end) and end in first_seen):
                raise TopologyError(f"{label}: unknown node {end!r}.")
        if ends[0] == ends[1]:
            raise TopologyError(f"{label}: self-loop (a link must join two different nodes).")
        key = frozenset(ends)
        if key in pairs:
            raise TopologyError(
                f"{label}: duplicate of link {pairs[key]} (two nodes share at most one link)."
            )
        pairs[key] = i


def _graph_from_document(doc: Any, source: str, *, require_connected: bool) -> nx.Graph:
    """Check a decoded file (JSON layout) and build the validated graph."""
    if not isinstance(doc, Mapping):
        raise TopologyError(f"{source}: the top level must be an object. Got {type(doc).__name__}.")
    for field in (Topology.NODES, Topology.LINKS):
        if field not in doc:
            raise TopologyError(f"{source}: missing required field {field!r}.")
        if not isinstance(doc[field], list):
            raise TopologyError(f"{source}: {field!r} must be a list. Got {doc[field]!r} instead.")
    nodes, links = doc[Topology.NODES], doc[Topology.LINKS]
    _check_records(nodes, links, source)

    graph = nx.Graph()  # not nx.Graph(**attrs): a key could clash with its parameters
    graph.graph.update((k, v) for k, v in doc.items() if k not in (Topology.NODES, Topology.LINKS))
    for record in nodes:
        attrs = {k: v for k, v in record.items() if k != Topology.ID}
        if isinstance(attrs.get(Topology.POS), list):
            attrs[Topology.POS] = tuple(attrs[Topology.POS])
        graph.add_node(record[Topology.ID], **attrs)
    for i, record in enumerate(links):
        if Topology.LENGTH_KM not in record:
            raise TopologyError(
                f"{source}: {_link_label(i, record)}: missing required field "
                f"{Topology.LENGTH_KM!r}."
            )
        attrs = {**_LINK_DEFAULTS}
        attrs.update(
            (k, v) for k, v in record.items() if k not in (Topology.SOURCE, Topology.TARGET)
        )
        for field in (Topology.LENGTH_KM, Topology.ALPHA_DB_PER_KM):
            value = attrs[field]
            if isinstance(value, int) and not isinstance(value, bool):
                attrs[field] = float(value)
        graph.add_edge(record[Topology.SOURCE], record[Topology.TARGET], **attrs)
    try:
        return validate_topology(graph, require_connected=require_connected)
    except TopologyError as err:
        raise TopologyError(f"{source}: {err}") from None


def _builtin(value: Any, element: str, field: str) -> Any:
    """``value`` as plain JSON data (numpy scalars unwrapped, tuples as lists)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_builtin(v, element, field) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _builtin(v, element, field) for k, v in value.items()}
    raise TopologyError(
        f"{element}: attribute {field!r} of type {type(value).__name__} cannot be saved as JSON."
    )


def _document_from_graph(graph: nx.Graph) -> dict[str, Any]:
    validate_topology(graph, require_connected=False)
    doc: dict[str, Any] = {}
    for key, value in graph.graph.items():
        if key in (Topology.NODES, Topology.LINKS):
            raise TopologyError(f"graph: attribute name {key!r} is reserved for the file layout.")
        doc[key] = _builtin(value, "graph", key)
    doc[Topology.NODES] = [
        {Topology.ID: node, **{k: _builtin(v, f"node {node!r}", k) for k, v in data.items()}}
        for node, data in graph.nodes(data=True)
    ]
    doc[Topology.LINKS] = [
        {
            Topology.SOURCE: u,
            Topology.TARGET: v,
            **{k: _builtin(x, f"link '{u}-{v}'", k) for k, x in data.items()},
        }
        for u, v, data in graph.edges(data=True)
    ]
    return doc


def _atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Write through ``write`` to a temporary sibling file, then move it over ``path``."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def save_json(graph: nx.Graph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` to ``path`` in the JSON layout of this module.

    Parameters
    ----------
    graph : networkx.Graph
        A topology; it is validated (connectivity not required) before writing.
    path : str or path-like
        Destination file; replaced atomically.

    Raises
    ------
    TopologyError
        If the graph fails validation or holds a value JSON cannot store.
    """
    doc = _document_from_graph(graph)
    try:
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    except ValueError as err:  # NaN or inf in a free-form attribute
        raise TopologyError(f"{os.fspath(path)}: cannot save as JSON: {err}.") from None
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_json(path: str | os.PathLike[str], *, require_connected: bool = True) -> nx.Graph:
    """Read and validate a topology saved in the JSON layout of this module.

    Parameters
    ----------
    path : str or path-like
        JSON file.
    require_connected : bool
        Whether the topology must be connected (default True).

    Returns
    -------
    networkx.Graph
        The validated topology, with link defaults filled in and ``pos`` as tuples.

    Raises
    ------
    TopologyError
        If the file is not valid UTF-8 JSON (the message gives the line and column) or does
        not describe a valid topology (the message names the node or link).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from qnetrl.network.topology import tokyo_qkd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tokyo.json"
    >>> save_json(tokyo_qkd(), path)
    >>> load_json(path).edges["Otemachi", "Hongo"]["length_km"]
    13.0
    """
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise TopologyError(
            f"{source}: not UTF-8 text ({err.reason} at byte {err.start})."
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise TopologyError(
            f"{source}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}."
        ) from None
    return _graph_from_document(doc, source, require_connected=require_connected)


# --------------------------------------------------------------------------------------------
# GraphML
# --------------------------------------------------------------------------------------------


def _graphml_scalar(value: Any, element: str, field: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, _GRAPHML_SCALARS):
        raise TopologyError(
            f"{element}: attribute {field!r} of type {type(value).__name__} cannot be saved as "
            "GraphML (str, int, float or bool only)."
        )
    return value


def save_graphml(graph: nx.Graph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` to ``path`` as GraphML (``pos`` as ``pos_x_km`` / ``pos_y_km``).

    Parameters
    ----------
    graph : networkx.Graph
        A topology whose node ids are all int or all str; validated (connectivity not
        required) before writing.
    path : str or path-like
        Destination file; replaced atomically.

    Raises
    ------
    TopologyError
        If the graph fails validation, mixes int and str node ids, uses a reserved attribute
        name, or holds a value GraphML cannot store.
    """
    validate_topology(graph, require_connected=False)
    id_types = {type(node) for node in graph}
    if len(id_types) > 1:
        raise TopologyError("graph: GraphML needs node ids of one type (all int or all str).")
    out = nx.Graph()
    for key, value in graph.graph.items():
        if key in (Topology.NODE_ID_TYPE, "node_default", "edge_default"):
            raise TopologyError(f"graph: attribute name {key!r} is reserved in GraphML files.")
        out.graph[key] = _graphml_scalar(value, "graph", key)
    out.graph[Topology.NODE_ID_TYPE] = id_types.pop().__name__
    for node, data in graph.nodes(data=True):
        element = f"node {node!r}"
        attrs = {}
        for key, value in data.items():
            if key in (Topology.POS_X_KM, Topology.POS_Y_KM):
                raise TopologyError(f"{element}: attribute name {key!r} is reserved in GraphML.")
            if key == Topology.POS:
                attrs[Topology.POS_X_KM], attrs[Topology.POS_Y_KM] = (float(c) for c in value)
            else:
                attrs[key] = _graphml_scalar(value, element, key)
        out.add_node(str(node), **attrs)
    for u, v, data in graph.edges(data=True):
        element = f"link '{u}-{v}'"
        out.add_edge(str(u), str(v), **{k: _graphml_scalar(x, element, k) for k, x in data.items()})
    _atomic_write(path, lambda tmp: nx.write_graphml(out, tmp))


def _graphml_outline(source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Node ids and link endpoints (as strings, in file order) read straight from the XML."""
    try:
        root = ET.parse(source).getroot()
    except ET.ParseError as err:  # str(err) ends with "line L, column C"
        raise TopologyError(f"{source}: invalid GraphML (XML error): {err}.") from None
    graph = root.find(f"{_GRAPHML_NS}graph")
    if root.tag != f"{_GRAPHML_NS}graphml" or graph is None:
        raise TopologyError(f"{source}: not a GraphML file (no <graphml><graph> element).")
    if graph.get("edgedefault", "directed") != "undirected":
        raise TopologyError(f"{source}: the graph must be undirected (edgedefault='undirected').")
    nodes = [
        {Topology.ID: el.get("id")} if el.get("id") is not None else {}
        for el in graph.findall(f"{_GRAPHML_NS}node")
    ]
    links = []
    for i, el in enumerate(graph.findall(f"{_GRAPHML_NS}edge")):
        record = {k: el.get(k) for k in (Topology.SOURCE, Topology.TARGET) if el.get(k) is not None}
        if el.get("directed") == "true":
            raise TopologyError(
                f"{source}: {_link_label(i, record)}: directed edges are not allowed."
            )
        links.append(record)
    return nodes, links


def load_graphml(path: str | os.PathLike[str], *, require_connected: bool = True) -> nx.Graph:
    """Read and validate a GraphML topology written by :func:`save_graphml` (or by hand).

    Parameters
    ----------
    path : str or path-like
        GraphML file with an undirected graph.
    require_connected : bool
        Whether the topology must be connected (default True).

    Returns
    -------
    networkx.Graph
        The validated topology; ``pos`` rebuilt as a tuple from ``pos_x_km`` and
        ``pos_y_km``, node ids converted back to int if ``node_id_type`` is ``"int"``.

    Raises
    ------
    TopologyError
        If the file is not well-formed XML (the message gives the line and column), is not an
        undirected GraphML graph, or does not describe a valid topology (the message names the
        node or link).
    """
    source = os.fspath(path)
    outline_nodes, outline_links = _graphml_outline(source)
    _check_records(outline_nodes, outline_links, source)
    try:
        raw = nx.read_graphml(source, node_type=str)
    except (nx.NetworkXError, ValueError, KeyError, TypeError) as err:
        raise TopologyError(f"{source}: invalid GraphML: {err}.") from None

    id_type = raw.graph.get(Topology.NODE_ID_TYPE, "str")
    if id_type not in ("int", "str"):
        raise TopologyError(
            f"{source}: graph: {Topology.NODE_ID_TYPE!r} must be one of {{'int', 'str'}}. "
            f"Got {id_type!r} instead."
        )

    def node_id(text: str) -> int | str:
        if id_type == "str":
            return text
        try:
            return int(text)
        except ValueError:
            raise TopologyError(
                f"{source}: node {text!r}: id is not an int although "
                f"{Topology.NODE_ID_TYPE!r} is 'int'."
            ) from None

    skip = (Topology.NODE_ID_TYPE, "node_default", "edge_default")
    doc: dict[str, Any] = {k: v for k, v in raw.graph.items() if k not in skip}
    doc[Topology.NODES] = []
    for record in outline_nodes:
        text = record[Topology.ID]
        attrs = dict(raw.nodes[text])
        has_xy = [k in attrs for k in (Topology.POS_X_KM, Topology.POS_Y_KM)]
        if any(has_xy):
            if not all(has_xy):
                raise TopologyError(
                    f"{source}: node {text!r}: {Topology.POS_X_KM!r} and {Topology.POS_Y_KM!r} "
                    "must be given together."
                )
            attrs[Topology.POS] = (attrs.pop(Topology.POS_X_KM), attrs.pop(Topology.POS_Y_KM))
        doc[Topology.NODES].append({Topology.ID: node_id(text), **attrs})
    doc[Topology.LINKS] = [
        {
            Topology.SOURCE: node_id(record[Topology.SOURCE]),
            Topology.TARGET: node_id(record[Topology.TARGET]),
            **raw.edges[record[Topology.SOURCE], record[Topology.TARGET]],
        }
        for record in outline_links
    ]
    return _graph_from_document(doc, source, require_connected=require_connected)
