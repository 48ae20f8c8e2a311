"""Rings as the dense communities of the ring-link graph (Leiden, constant Potts model).

A connected component of ring links is every risky account one chain of links reaches, so two
campaigns end up in one component when a few of their bots share links: camouflage bots that
co-act with another farm on a customer both serve, a proxy that reused a device. The bridge cut
(:func:`gnn.rings.drop_bridges`) removes a lone link between two dense groups, but not links that
close triangles, nor a path through an account with one or two links. Such a component is two or
more dense groups with a sparse seam between them.

The constant Potts model (Traag, Van Dooren and Nesterov, 2011) scores a partition by the links
inside its groups minus ``density`` times the pairs inside them (igraph's form: twice the links
minus ``density`` times the squared size, per group), so a group stays whole when its links are
denser than ``density`` and an account belongs with a group when it has more than ``density``
times the group's size links into it. At 0.05: two farms of 12 joined by four links (4 of their
144 pairs) are two rings; a device farm's handset cliques joined by co-action links (about a
quarter of the pairs between them) stay one; a flagged benign account with one link into a farm
of 40 is cut off and one with three stays (two tie: it needs strictly more than 0.05 × 40); a chain
stays whole up to 8 accounts and a star up to 20 (at 9 and 21 they tie; longer chains come apart
in pieces, bigger stars shed leaves).
Unlike modularity the model has no null model over the whole graph: it has no resolution limit
(modularity merges groups much smaller than the square root of its graph's links, so a giant
component of thousands of farms comes out in dozens), and a component's partition does not depend
on the rest, so one run over the whole graph splits every component on its own terms. Leiden
(Traag, Waltman and van Eck, 2019) finds the partition and, unlike Louvain, never returns a group
that is disconnected inside.

Cost: one Leiden run over the links. 400 farms of 100 accounts in one component of 2M links
split in 1.0 s; 20,000 farms of 20 in 3.9M links in 2.9 s on this 2-core machine
(``scripts/bench_communities.py``).
"""

from __future__ import annotations

import random

import igraph as ig
import numpy as np


def ring_communities(a: np.ndarray, b: np.ndarray, num_nodes: int, density: float, seed: int = 0) -> np.ndarray:
    """Label every node by its dense community of the links ``a``–``b`` (see the module docstring).

    Args:
        a: One end of each distinct link, ``[num_links]``.
        b: The other end, ``[num_links]``.
        num_nodes: Number of nodes.
        density: The constant Potts model's resolution: the link density below which a seam
            between two groups is cut.
        seed: Seed of Leiden's random node order; the same inputs and seed give the same labels
            (igraph's generator is process-wide: it is set for the run and put back to Python's
            ``random``, igraph's default, after; not safe to call from two threads at once).

    Returns:
        A label per node, ``[num_nodes]``, in ``[0, num_nodes)``: linked nodes share one exactly
        when they are in one community (always inside one connected component); a node with no
        link has a label of its own.
    """
    if not len(a):
        return np.arange(num_nodes, dtype=np.int64)
    linked = np.zeros(num_nodes, bool)
    linked[a] = linked[b] = True
    nodes = np.flatnonzero(linked)
    local = np.zeros(num_nodes, np.int64)
    local[nodes] = np.arange(len(nodes))
    graph = ig.Graph(n=len(nodes), edges=list(zip(local[a].tolist(), local[b].tolist(), strict=True)))  # tuples: 3x faster than an array
    ig.set_random_number_generator(random.Random(seed))
    try:
        parts = np.asarray(graph.community_leiden(objective_function="CPM", resolution=density, n_iterations=2).membership)
    finally:
        ig.set_random_number_generator(random)  # igraph's default generator
    label = np.empty(num_nodes, np.int64)
    label[nodes] = parts  # communities first, in Leiden's order; then each unlinked node its own
    label[~linked] = parts.max() + 1 + np.arange(num_nodes - len(nodes))
    return label
