"""Surgery on NIR graphs, as ``nodes`` (name -> node) and ``edges`` (name pairs).

* ``fold_scales``: after export, a uniform Scale goes into the weights after it;
* ``inline_subgraphs``: before import, nested NIRGraphs become plain nodes;
* ``split_loops``: a neuron's own cycle (neuron -> Linear/Affine/Scale ->
  neuron) is taken out of the graph, to become the neuron's recurrent weight;
* ``topological_order``: the import order, or an error naming a cycle.
"""

import collections

import numpy as np

from .library import load_nir
from .errors import import_error

nir = load_nir()


def fold_scales(nodes, edges):
    """Fold a Scale into the Affine/Linear/Conv after it (through Flatten and
    pooling), so that spikes reach the weights as 0/1: a Scale followed by a Scale
    becomes one; a uniform Scale multiplies the weights; a per-element one (a
    converter's channel factors, ``convert(channel_norm=True)``) multiplies the
    weights' input columns (``_input_scale``). Returns ``(nodes, edges)``."""
    while True:
        out_edges = collections.defaultdict(list)
        in_edges = collections.defaultdict(list)
        for a, b in edges:
            out_edges[a].append(b)
            in_edges[b].append(a)
        for name, node in nodes.items():
            if not isinstance(node, nir.Scale) or len(out_edges[name]) != 1 or len(
                in_edges[name]) != 1:
                continue
            target = out_edges[name][0]
            if isinstance(nodes[target], nir.Scale) and len(in_edges[target]) == 1:
                nodes[target].scale = nodes[target].scale * node.scale
            else:
                scale, passed = np.asarray(node.scale), []
                while (isinstance(nodes[target], (nir.Flatten, nir.AvgPool2d, nir.SumPool2d))
                       and len(in_edges[target]) == 1 and len(out_edges[target]) == 1):
                    passed.append(nodes[target])
                    target = out_edges[target][0]
                weighted = (nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)
                if not isinstance(nodes[target], weighted) or len(in_edges[target]) != 1:
                    continue
                factor = _input_scale(scale, passed, nodes[target])
                if factor is None:
                    continue
                nodes[target].weight = nodes[target].weight * factor
            (source,) = in_edges[name]
            edges = [(source if a == name else a, b) for a, b in edges if b != name]
            del nodes[name]
            break
        else:
            return nodes, edges


def _per_channel(scale):
    """The channel (first, NIR) axis of ``scale`` when it is constant over the
    others, else None."""
    scale = np.asarray(scale)
    if scale.ndim < 2:
        return None
    channels = scale.reshape(scale.shape[0], -1)
    return channels[:, 0] if np.all(channels == channels[:, :1]) else None


def _input_scale(scale, passed, node):
    """The factor (broadcast against ``node.weight``) that moves a Scale of
    ``scale`` (NIR order) through the Flatten/pooling nodes ``passed`` into the
    input columns of ``node``; None when it cannot be moved."""
    values = np.unique(scale)
    if values.size == 1:
        return values[0]
    weight = np.asarray(node.weight)
    pooled = any(not isinstance(p, nir.Flatten) for p in passed)
    channels = _per_channel(scale)
    if pooled and channels is None:
        return None  # a pool averages elements of different scales
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        if channels is None or any(isinstance(p, nir.Flatten) for p in passed):
            return None
        if int(getattr(node, "groups", 1) or 1) != 1 or channels.size != weight.shape[1]:
            return None
        return channels.reshape((1, -1) + (1,) * (weight.ndim - 2))
    if pooled:  # the per-channel factor over the pooled map the Flatten flattens
        flatten = next((p for p in passed if isinstance(p, nir.Flatten)), None)
        if flatten is None:
            return None
        shape = tuple(np.asarray(flatten.input_type["input"]).astype(int))
        if not shape or shape[0] != channels.size:
            return None
        scale = np.broadcast_to(channels.reshape((-1,) + (1,) * (len(shape) - 1)), shape)
    flat = np.asarray(scale).reshape(-1)
    if weight.ndim != 2 or flat.size != weight.shape[1]:
        return None
    return flat[None, :]


def inline_subgraphs(graph):
    """The nodes and edges of ``graph`` with nested NIRGraphs inlined (their
    nodes named ``outer_inner``; edges into a subgraph go to the nodes after
    its Input, edges out of it leave from the nodes before its Output)."""
    nodes, edges, ports = {}, [], {}
    for key, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[key] = node
            continue
        inner_nodes, inner_edges = inline_subgraphs(node)
        ins = [k for k, n in inner_nodes.items() if isinstance(n, nir.Input)]
        outs = [k for k, n in inner_nodes.items() if isinstance(n, nir.Output)]
        if len(ins) != 1 or len(outs) != 1 or (ins[0], outs[0]) in inner_edges:
            raise import_error(key, node, "a nested graph needs exactly one Input and one "
                               "Output, not joined directly", "flatten the graph")
        entry = [f"{key}_{b}" for a, b in inner_edges if a == ins[0]]
        exit_ = [f"{key}_{a}" for a, b in inner_edges if b == outs[0]]
        ports[key] = (entry, exit_)
        nodes.update((f"{key}_{k}", n) for k, n in inner_nodes.items()
                     if k not in (ins[0], outs[0]))
        edges.extend((f"{key}_{a}", f"{key}_{b}") for a, b in inner_edges
                     if a != ins[0] and b != outs[0])
    for a, b in graph.edges:
        sources = ports[a][1] if a in ports else [a]
        targets = ports[b][0] if b in ports else [b]
        edges.extend((s, t) for s in sources for t in targets)
    return nodes, edges


def split_loops(nodes, edges, neurons):
    """Take out every self-recurrence ``neuron -> Linear/Affine/Scale -> the same
    neuron`` (``neurons``: the node classes that count as neurons, matched
    exactly; an Affine is snnTorch's RLeaky/RSynaptic with a bias).

    Returns ``(loops, nodes, edges)``: ``{neuron: (weight name, weight node)}``
    and the graph without the weight nodes and their edges.
    """
    loops = {}
    for key, node in nodes.items():
        if type(node) not in (nir.Linear, nir.Affine, nir.Scale):
            continue
        ins = [a for a, b in edges if b == key]
        outs = [b for a, b in edges if a == key]
        if (len(ins) == 1 and outs == ins and ins[0] not in loops
                and type(nodes[ins[0]]) in neurons):
            loops[ins[0]] = (key, node)
    weights = {weight for weight, _ in loops.values()}
    nodes = {k: n for k, n in nodes.items() if k not in weights}
    edges = [(a, b) for a, b in edges if a not in weights and b not in weights]
    return loops, nodes, edges


def topological_order(nodes, edges):
    """``(order, parents)``: the node names with every node after its inputs, and
    each node's inputs (in edge order). A cycle raises, naming its nodes."""
    parents = {n: [] for n in nodes}
    children = {n: [] for n in nodes}
    for a, b in edges:
        parents[b].append(a)
        children[a].append(b)
    pending = {n: len(parents[n]) for n in nodes}
    ready = [n for n in nodes if pending[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for c in children[n]:
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
    if len(order) != len(nodes):
        done = set(order)
        cycle = _a_cycle([n for n in nodes if n not in done], children)
        raise import_error(
            cycle[0], nodes[cycle[0]], f"the graph has a cycle {' -> '.join(cycle + cycle[:1])} "
            "that is not a neuron's own recurrence (neuron -> Linear/Affine/Scale -> the same "
            "neuron), which import_nir does not map", "import a graph with only such loops",
        )
    return order, parents


def _a_cycle(names, children):
    """One shortest cycle among ``names`` (the nodes a topological sort could not
    place: cycles and what lies after them), as the list of its nodes in edge
    order, starting at the first name (sorted) that lies on a cycle; the nodes
    only downstream of it are not named."""
    names = set(names)
    for start in sorted(names):
        previous, frontier = {}, [start]
        while frontier:  # breadth first, so the first way back is a shortest cycle
            following = []
            for n in frontier:
                for c in children[n]:
                    if c == start:
                        cycle = [n]
                        while cycle[-1] != start:
                            cycle.append(previous[cycle[-1]])
                        return cycle[::-1]
                    if c in names and c not in previous:
                        previous[c] = n
                        following.append(c)
            frontier = following
    raise AssertionError("topological_order: unplaced nodes without a cycle")
