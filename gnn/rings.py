"""Rings: clusters of coordinated, risky accounts.

Two stages over the accounts at or above a risk floor:

1. The coordination relations (co-action, shared device, same text) link risky accounts;
   each connected component of at least ``min_size`` of them is a ring.
2. The risky accounts stage 1 left out of every ring are linked by **shared customers**: two
   of them acted on at least ``min_shared_targets`` of the same targets, counting only targets
   whose audience is largely risky (at least ``min_risky_share`` of the actor rows on them come
   from risky accounts). Co-action needs two actions inside one short window; a campaign that
   spreads its work over the day or over days (slow drips, residential-proxy pools,
   camouflaged farms) shows no lockstep but still serves the same few customers (CopyCatch's
   target-set view). Two accounts with one shared customer are linked too when their customer
   peers are nearly the same crowd (SCAN's structural similarity): a campaign that gives each
   bot one or two jobs leaves most of its pairs one customer apart. Bot cover activity
   (following stars, liking a community like anyone) lands on targets with a mostly organic
   audience and links no one. Stage 2 never touches a
   stage-1 ring, so a customer two campaigns both serve cannot merge a campaign into a ring
   the coordination relations found (two campaigns both found only by stage 2 that share two
   customers, or one with nearly the same peers, do end up in one ring).

Before the components are taken, **bridges** are cut: a link in no triangle whose two ends
each have at least two other links. A campaign is dense (its members share many customers,
devices or bursts), so a lone link between two dense groups (one reused comment text between
a like farm and a follow farm) is a coincidence, not coordination, and would merge two
campaigns into one ring. Chains and small rings keep every link: an end with one or two links
is never cut. A dense group with no triangle at all (a bipartite pattern) would lose its links
too; the coordination relations link everyone on one device, in one burst or with one text to
each other, so their groups are cliques.

The rings are then the **dense communities** of what is left, not its connected components
(:func:`gnn.communities.ring_communities`: Leiden with the constant Potts model at link density
``split_density``). A component can still hold several dense groups joined by a few links that
close triangles (the camouflage bots of one farm co-acting with another farm on a customer both
serve); the seam between them is sparser than ``split_density``, so they become separate rings,
and an account with few links into a big farm is cut off from it (the attaching below can take
it back when those links are most of its coordination partners).

Accounts **known** to be abusive (the labels the scorer reads) count as risky whatever their
score: a campaign enforcement has half banned is found around its banned half. After the
components, accounts outside every ring but at least half-way to the floor are **attached** to
the ring where at least two distinct members share coordination links with them (the farm's
handsets and scripts, not one reused "first!"): a campaign's quieter members score below the
floor, but they are on the same devices and bursts as the loud ones. A ring's edges count
every coordination link between its members. A ring with fewer than ``min_known`` (two) known
members needs ``min_size_unseeded`` accounts: a handful of wrongly flagged accounts links up by
coincidence (a household, entrants of one giveaway), and so do one banned account and the
neighbours its label raises (a camouflaged bot's organic cover, or a wrong report); a ring of
known accounts only is not published.

Last, a risky account still outside every ring (at even odds of abuse or more, or known) joins
the ring whose **customers** it served: at least ``customer_attach`` targets where
``customer_members`` or more of the ring's members act and make at least ``customer_share`` of
the audience's rows. A camouflaged farm's bots each take a few of its orders, so they share
neither links nor two customers with each other, but each serves the farm's customers.

Whole-graph work uses NumPy, Polars, SciPy sparse components and one igraph Leiden run, not
per-node Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gnn.communities import ring_communities
from gnn.data import NODE, GraphTensors
from graphs.relations import NON_COACTION_TYPES
from ringwatch.errors import ConfigError
from ringwatch.types import COORDINATION_RELATIONS, UNDIRECTED_RELATIONS

Edges = tuple[np.ndarray, np.ndarray]
"""``(src, dst)`` node indices."""


def _no_edges() -> Edges:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


@dataclass(frozen=True)
class RingEdges:
    """The edges rings are made of, as node indices.

    Attributes:
        links: Coordination relation → its pairs, each stored once.
        actions: Actor → target edges of the directed relations (those loaded with a
            ``rev_`` twin) other than :data:`graphs.relations.NON_COACTION_TYPES` (unfollows,
            own posts, sessions), one row per relation and pair.
    """

    links: dict[str, Edges]
    actions: Edges

    @classmethod
    def of(cls, graph: GraphTensors) -> RingEdges:
        """Read the ring edges out of a loaded graph."""
        links: dict[str, Edges] = {}
        src, dst = [], []
        for (_, name, _), ei in graph.edge_index.items():
            e = ei.cpu().numpy()
            if name in COORDINATION_RELATIONS:
                if name in UNDIRECTED_RELATIONS:  # load_graph stored both directions: keep the first half
                    e = e[:, : e.shape[1] // 2]
                links[name] = (e[0], e[1])
            elif (NODE, f"rev_{name}", NODE) in graph.edge_index and name not in NON_COACTION_TYPES:
                src.append(e[0])
                dst.append(e[1])
        return cls(links, (np.concatenate(src), np.concatenate(dst)) if src else _no_edges())


_CHUNK = 1 << 22
"""Most (pair, neighbour) probes held at once by :func:`_probes` (~200 MB)."""

MAX_PEERS = 256
"""Most customer peers an account may have for the peer-similarity link (:func:`shared_target_pairs`):
counting a crowd's common peers costs the cube of its size (the largest crowd on one customer
that is still checked, 257 accounts, takes 8.4M probes, about 0.4 s), so beyond this only two
shared customers link it."""


def shared_target_pairs(actions: Edges, risky: np.ndarray, min_shared: int, min_risky_share: float,
                        linkable: np.ndarray | None = None, peer_similarity: float | None = None) -> Edges:
    """Pairs of risky accounts that acted on at least ``min_shared`` of the same customers, or on
    one when they have nearly the same customer peers.

    A customer is a target whose audience is largely risky: at least ``min_risky_share`` of the
    actor rows on it come from risky accounts (a bought audience), and at least two do. The
    cover activity of bots (following stars, liking their community like anyone) lands on
    targets whose audience is mostly organic, so it links no one.

    Two accounts are customer peers when they share a customer. A campaign that hires each bot
    for one or two jobs (a residential-proxy pool on a short run, a camouflaged farm where a
    quarter of the bots serve each order) leaves most pairs of its bots with one shared
    customer, not two; but its bots' peers are the same crowd, the campaign. So a pair with one
    shared customer is linked too when their closed peer sets (the account and its peers) are
    nearly the same: SCAN's structural similarity ``|N[u] ∩ N[v]| / sqrt(|N[u]| |N[v]|)`` at
    least ``peer_similarity``, each with at least two and at most :data:`MAX_PEERS` peers. An
    account that shares one customer with a campaign but has peers of its own (a fan of that
    creator with friends of its own, a bot of another campaign serving the same customer) stays
    apart; a risky account whose one customer is the campaign's has the campaign's peers and
    joins it. Peers are counted among the linkable accounts only: in :func:`find_rings`, the
    risky accounts outside the coordination rings, so a fan whose other peers are all in such a
    ring looks as if it had none.

    The shared counts come from one sparse product (linkable accounts × customers times its
    transpose), so memory follows the number of distinct pairs, not the sum over customers of
    their audience squared (a 1,000-bot farm on 100 customers: 0.5M pairs, not 50M join rows).

    Args:
        actions: Actor → target edges (one row per relation and pair; repeats are fine).
        risky: Mask of the risky accounts, ``[num_nodes]``.
        min_shared: Fewest distinct shared customers for a pair.
        min_risky_share: Smallest share of a target's actor rows that come from risky
            accounts for the target to count as a customer.
        linkable: Mask of the risky accounts that may be paired (default: all of them).
        peer_similarity: Smallest structural similarity that links a pair with fewer than
            ``min_shared`` shared customers (``None``: never).

    Returns:
        ``(a, b)`` with ``a < b``, each pair once.
    """
    src, dst = actions
    n = len(risky)
    from_risky = risky[src] & (src != dst)
    rows = np.bincount(dst, minlength=n)
    risky_rows = np.bincount(dst[from_risky], minlength=n)
    customer = (risky_rows >= 2) & (risky_rows >= min_risky_share * rows)
    keep = from_risky & customer[dst] & (risky if linkable is None else linkable)[src]
    if not keep.any():
        return _no_edges()
    actors, a = np.unique(src[keep], return_inverse=True)
    targets, t = np.unique(dst[keep], return_inverse=True)
    m = sp.csr_matrix((np.ones(len(a), np.float32), (a, t)), shape=(len(actors), len(targets)))
    m.data[:] = 1.0  # a target acted on by several relations is one shared customer
    peers = (m @ m.T).tocsr()  # shared customers per pair of actors
    peers.setdiag(0)  # every actor has its own count there: zeroed in place, no new entry
    peers.eliminate_zeros()
    shared = sp.triu(peers, k=1).tocoo()
    ok = shared.data >= min_shared
    if peer_similarity is not None:
        ok |= _similar_peers(peers, shared.row, shared.col, peer_similarity)
    return actors[shared.row[ok]].astype(np.int64), actors[shared.col[ok]].astype(np.int64)


def _similar_peers(peers: sp.csr_matrix, u: np.ndarray, v: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each pair ``(u, v)`` of the peer graph ``peers`` (symmetric, no self-links; any
    stored value is a link) has structural similarity of at least ``threshold`` with at least two
    and at most :data:`MAX_PEERS` peers at each end (see :func:`shared_target_pairs`).

    Only pairs that can reach the threshold are counted: ``v`` is a peer of ``u`` but not a
    common one, so the similarity is at most ``sqrt((lo + 1) / (hi + 1))`` for the two ends'
    peer counts ``lo <= hi``. Their common peers are counted by probing every peer of the end
    with fewer (:func:`_common_neighbours`), so the work is at most :data:`MAX_PEERS` probes a pair.
    """
    peers.sort_indices()
    deg = np.diff(peers.indptr)
    lo, hi = np.minimum(deg[u], deg[v]), np.maximum(deg[u], deg[v])
    check = np.flatnonzero((lo >= 2) & (hi <= MAX_PEERS) & (lo + 1 >= threshold**2 * (hi + 1)))
    similar = np.zeros(len(u), bool)
    common = _common_neighbours(peers, u[check], v[check])
    closed = deg + 1.0
    similar[check] = (common + 2.0) / np.sqrt(closed[u[check]] * closed[v[check]]) >= threshold  # u, v in both closed sets
    return similar


def ring_synchrony(ring: np.ndarray, coaction: Edges) -> np.ndarray:
    """How much of a ring works in lockstep, per ring: the share of its members with a
    ``coaction`` link to another member (they acted on the same target within the co-action
    window in enough episodes: SynchroTrap's point that a farm's bots do the same thing *at the
    same time*).

    A like farm's bursts or a sleeper cell's wake-up come out high; a slow drip, a camouflaged
    farm that serves the same customers hours apart, or a message blast to strangers near 0.
    Counting members rather than pairs keeps the bots' shared cover (every bot follows the same
    stars, at any time) from diluting it.

    Args:
        ring: Ring label per node, ``[num_nodes]``; negative outside every ring.
        coaction: The co-action links, ``(src, dst)``.

    Returns:
        Synchrony in ``[0, 1]`` per ring label, ``[num_nodes]`` (0 where no ring has the label).
    """
    n = len(ring)
    s, d = coaction
    ok = (ring[s] >= 0) & (ring[s] == ring[d]) & (s != d)
    paced = np.zeros(n, bool)
    paced[s[ok]] = True
    paced[d[ok]] = True
    inside = ring >= 0
    members = np.bincount(ring[inside], minlength=n)
    return np.divide(np.bincount(ring[paced], minlength=n), members, out=np.zeros(n), where=members > 0)


def _probes(adj: sp.csr_matrix, u: np.ndarray, v: np.ndarray, cnt: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Probe the first ``cnt[i]`` neighbours ``w`` of ``u[i]``: is ``w`` a neighbour of ``v[i]`` too?

    Yields ``(pair, common)`` in chunks of whole pairs of at most :data:`_CHUNK` probes (or one
    pair): the pair index of each probe and whether its ``w`` is a common neighbour (a CSR lookup
    per probe; ``adj`` must have sorted indices).
    """
    ends = np.cumsum(cnt)
    start = 0
    while start < len(u):
        stop = max(int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _CHUNK, side="right")), start + 1)
        c = cnt[start:stop]
        pair = np.repeat(np.arange(start, stop), c)
        first = np.repeat(adj.indptr[u[start:stop]] - (np.cumsum(c) - c), c)
        w = adj.indices[first + np.arange(len(pair))]  # a neighbour of u
        yield pair, (np.asarray(adj[w, v[pair]]).ravel() != 0) & (w != v[pair])
        start = stop


def _lower_degree_first(adj: sp.csr_matrix, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, v, deg)`` with each pair ordered so that ``u`` has the fewer neighbours."""
    deg = np.diff(adj.indptr)
    swap = deg[u] > deg[v]
    return np.where(swap, v, u), np.where(swap, u, v), deg


def _has_common_neighbour(adj: sp.csr_matrix, u: np.ndarray, v: np.ndarray, probe: int) -> np.ndarray:
    """Whether each pair ``(u, v)`` of a symmetric adjacency has a common neighbour.

    Looks at the first ``probe`` neighbours of the lower-degree end first (in a dense group one of
    them is almost always the other's neighbour too), then at all neighbours only for the pairs
    still open: exact, without the ``sum(deg²)`` work of counting every triangle of a farm, and
    in chunks of at most :data:`_CHUNK` probes, so memory stays bounded on a sparse graph too.
    """
    u, v, deg = _lower_degree_first(adj, u, v)
    found = np.zeros(len(u), bool)
    for cap in (probe, None):
        open_ = np.flatnonzero(~found if cap is None else np.ones(len(u), bool))
        if cap is None:
            open_ = open_[deg[u[open_]] > probe]  # the probe already saw every neighbour of the rest
        cnt = deg[u[open_]] if cap is None else np.minimum(deg[u[open_]], cap)
        for pair, common in _probes(adj, u[open_], v[open_], cnt):
            found[open_[pair[common]]] = True
    return found


def _common_neighbours(adj: sp.csr_matrix, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How many common neighbours each pair ``(u, v)`` of a symmetric adjacency has (every
    neighbour of the lower-degree end probed; see :func:`_probes`)."""
    u, v, deg = _lower_degree_first(adj, u, v)
    count = np.zeros(len(u), np.int64)
    for pair, common in _probes(adj, u, v, deg[u]):
        count += np.bincount(pair[common], minlength=len(u))
    return count


def drop_bridges(src: np.ndarray, dst: np.ndarray, n: int, probe: int = 8) -> Edges:
    """The distinct links of ``(src, dst)`` without bridges between dense groups.

    A link is dropped when it is in no triangle and both its ends have at least two other
    links (see the module docstring).

    Returns:
        ``(a, b)`` with ``a < b``, each kept link once.
    """
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    keep = a != b
    key = np.sort(a[keep].astype(np.int64) * n + b[keep])
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key  # sort + diff: np.unique hashes, 5x slower here
    a, b = key // n, key % n
    if not len(a):
        return a, b
    adj = sp.coo_matrix((np.ones(2 * len(a), np.int8), (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
    adj.sort_indices()
    deg = np.diff(adj.indptr)
    bridge = (deg[a] >= 3) & (deg[b] >= 3)  # only these can be cut: check just them for triangles
    bridge[bridge] = ~_has_common_neighbour(adj, a[bridge], b[bridge], probe)
    return a[~bridge], b[~bridge]


def _in_rings(n: int, risky: np.ndarray, s: np.ndarray, d: np.ndarray, min_size: int) -> np.ndarray:
    """Mask of the risky accounts in a component of at least ``min_size`` risky accounts."""
    _, comp = connected_components(sp.coo_matrix((np.ones(len(s)), (s, d)), shape=(n, n)).tocsr(), directed=False)
    size = np.bincount(comp[risky], minlength=n)
    return risky & (size[comp] >= min_size)


def _attach(ring: np.ndarray, candidate: np.ndarray, s: np.ndarray, d: np.ndarray, min_links: int,
            min_share: float) -> None:
    """Add accounts just below the floor to the ring they are tied to (``ring`` is updated in place).

    A ``candidate`` account outside every ring joins the ring holding the most
    of its distinct coordination neighbours (links ``s``–``d``) when that is at least
    ``min_links`` members and at least ``min_share`` of all its coordination neighbours; ties
    go to the lower ring.
    """
    s, d = np.r_[s, d], np.r_[d, s]  # neighbour → candidate, in both directions
    ok = (ring[d] < 0) & candidate[d] & (s != d)
    if not (ok & (ring[s] >= 0)).any():
        return
    nbrs = pl.DataFrame({"v": d[ok], "u": s[ok]}).unique()
    nbrs = nbrs.with_columns(pl.Series("r", ring[nbrs["u"].to_numpy()]))
    best = (nbrs.filter(pl.col("r") >= 0).group_by("v", "r").len()
            .sort("len", "r", descending=[True, False]).group_by("v").first()
            .join(nbrs.group_by("v").len().rename({"len": "all"}), on="v")
            .filter((pl.col("len") >= min_links) & (pl.col("len") >= min_share * pl.col("all"))))
    ring[best["v"].to_numpy()] = best["r"].to_numpy()


def _attach_to_customers(ring: np.ndarray, candidate: np.ndarray, actions: Edges, min_customers: int,
                         min_members: int, min_share: float) -> None:
    """Add accounts outside every ring to the ring whose customers they served (``ring`` is updated
    in place).

    A ring's customers are the targets at least ``min_members`` distinct members of the ring act
    on, with the ring's members making at least ``min_share`` of the target's actor rows (a
    farm's order, not the ring's cover on a star, whose audience is millions). A ``candidate``
    outside every ring joins the ring when it acted on at least ``min_customers`` distinct
    customers of it: the ring with the most (then the one with more members on them, then the
    lower ring). One pass: an account attached here makes no customer for the next.
    """
    src, dst = actions
    of = ring[src]  # one lookup per action (ten million at a million accounts)
    others = src != dst  # an account's rows on itself serve no one
    member = np.flatnonzero((of >= 0) & others)
    orders = (pl.DataFrame({"target": dst[member], "ring": of[member], "actor": src[member]})
              .group_by("target", "ring").agg(pl.len().alias("rows"), pl.col("actor").n_unique().alias("members"))
              .filter(pl.col("members") >= min_members))
    if orders.is_empty():
        return
    audience = np.bincount(dst, minlength=len(ring)) - np.bincount(dst[~others], minlength=len(ring))
    customers = orders.filter(pl.col("rows") >= min_share * pl.Series(audience[orders["target"].to_numpy()]))
    served = np.flatnonzero(candidate[src] & (of < 0) & others)
    best = (pl.DataFrame({"actor": src[served], "target": dst[served]}).unique()
            .join(customers.select("target", "ring", "members"), on="target")
            .group_by("actor", "ring").agg(pl.len().alias("customers"), pl.col("members").sum())
            .filter(pl.col("customers") >= min_customers)
            .sort("customers", "members", "ring", descending=[True, True, False]).group_by("actor").first())
    ring[best["actor"].to_numpy()] = best["ring"].to_numpy()


ATTACH_SHARE = 0.5
"""Accounts at or above this share of the ring floor may be attached to a ring (:func:`find_rings`):
no ring holds an account below it but a known one."""
MAX_RELATED = 20
"""Most related rings listed per ring (most links first): enough for a farm the dense communities
split into its groups of handsets, bounded for a ring that touches many."""


def find_rings(account_ids: np.ndarray, risk: np.ndarray, edges: RingEdges, risk_floor: float = 0.25,
               min_size: int = 4, min_shared_targets: int = 2, min_risky_share: float = 0.3,
               peer_similarity: float | None = 0.9, split_density: float | None = 0.05,
               known: np.ndarray | None = None, attach_share: float = ATTACH_SHARE, attach_links: int = 2,
               attach_focus: float = 2 / 3, min_size_unseeded: int = 8, min_known: int = 2,
               min_related_links: int = 2, max_related: int = MAX_RELATED,
               customer_attach: int | None = 2, customer_members: int = 3, customer_share: float = 0.1,
               customer_risk: float = 0.5) -> tuple[np.ndarray, pl.DataFrame]:
    """Cluster risky accounts along coordination edges, then the rest along shared customers;
    cut the bridges between dense groups and take the dense communities of the rest; then attach
    the accounts just below the floor that are tied to a ring, and the risky accounts that served
    a ring's customers.

    Args:
        account_ids: Sorted account ids (node order).
        risk: Calibrated risk per node.
        edges: The graph's ring edges (:meth:`RingEdges.of`).
        risk_floor: Accounts below this risk are not ring members, unless ``known`` or attached.
        min_size: Smallest ring (three risky accounts on shared devices are a household as
            often as a farm; on the held-out synthetic platforms rings of three were mostly
            households and fan groups); at least 2.
        min_shared_targets: Fewest distinct customers two accounts must share to be linked
            without a coordination edge (one shared target is what any two fans have), unless
            their customer peers are nearly the same (``peer_similarity``).
        min_risky_share: Share of a target's actor rows from risky accounts that makes it a
            customer (see :func:`shared_target_pairs`). 20% found more camouflaged farms (their
            orders are small, so their customers' audiences are 16–33% risky) but made the common
            targets of wrongly flagged accounts customers where a scorer flags many.
        peer_similarity: Structural similarity of two accounts' customer peers that links them
            on one shared customer (see :func:`shared_target_pairs`; ``None``: never). On 30
            held-out synthetic seed pairs, campaigns found 329 → 334 of 360, member precision
            within 0.003 of before on every block of seeds (docs/quality-log.md).
        split_density: Link density below which a seam inside a component separates two rings
            (:func:`gnn.communities.ring_communities`; ``None``: rings are whole connected
            components). On 50 held-out synthetic seed pairs, campaigns found 538 → 565 of 600,
            benign ring members 326 → 135, campaign members 11,581 → 11,464 (a bot with few links
            into a big ring is cut off too); docs/quality-log.md.
        known: Mask of accounts already known to be abusive (the labels the scorer reads):
            they count as risky whatever their score, so a campaign enforcement has already
            half-banned is still found as a ring around the rest of it; a ring of known
            accounts only is dropped.
        attach_share: Accounts at or above ``attach_share * risk_floor`` may be attached.
        attach_links: Fewest distinct members of one ring an attached account must have
            coordination links to (a bot on the farm's handsets and scripts, not a fan who
            once posted the same "first!").
        min_size_unseeded: Smallest ring with fewer than ``min_known`` known-abusive members. A
            handful of wrongly flagged accounts links up by coincidence (a household, three
            entrants of one giveaway); on 20 held-out synthetic platforms every ring that was
            mostly benign had at most 6 members or a known one, every campaign ring without a
            known member at least 9 (for rings with one known member, see ``min_known``).
        min_known: Fewest known-abusive members that let a ring be smaller than
            ``min_size_unseeded``. The label features raise a known account's neighbours, so
            one known account and the organic accounts it works among make a small ring: on 60
            held-out synthetic seed pairs, 18 of the 23 rings of fewer than 8 accounts with
            exactly one known member were mostly benign (61 benign members against 8 abusive);
            in 12 the known member was a real bot of a camouflaged, slow or proxy campaign, in 6
            a wrong report (docs/quality-log.md).
        attach_focus: Smallest share of an attached account's coordination neighbours that
            must be members of its ring (a farm's quiet bot works with the farm; a fan who
            co-acted with the farm on one viral video co-acts with a hundred other fans too).
        min_related_links: Fewest distinct links between the members of two rings that relate
            them. One link is what the bridge cut calls a coincidence: over 50 held-out synthetic
            seed pairs, 5 of the 97 ring pairs with exactly one link were pieces of one campaign,
            56 of the 75 with two or more (docs/quality-log.md).
        max_related: Most related rings listed per ring.
        customer_attach: Fewest distinct customers of one ring a risky account outside every ring
            must have served to join it (``None``: never). A camouflaged farm gives each order to
            a quarter of its bots, so most of its bots share no link and no two customers with
            one another, but each serves several of the orders the ring's members serve; a fan
            of one customer serves one. On 50 held-out synthetic seed pairs, campaigns found
            565 → 572 of 600, benign ring members 135 → 144 (docs/quality-log.md).
        customer_members: Fewest distinct members of a ring acting on a target for it to be one
            of the ring's customers (two is a coincidence of two busy accounts).
        customer_share: Smallest share of a target's actor rows from one ring's members for it
            to be the ring's customer (a small order on a mid-sized account; the ring's cover on
            a star is a sliver of its audience).
        customer_risk: Smallest risk of an account attached by ``customer_attach`` (known
            accounts need none): more likely abusive than not, so an account the scorer only
            half suspects does not join a ring through one creator's audience.

    Returns:
        ``ring_id`` per node (``None`` outside rings) and a ring table with ``ring_id, size,
        edges, density, synchrony, mean_risk, ring_score, members, related, related_links``,
        best ring first (synchrony: :func:`ring_synchrony`; NaN when the graph has no co-action
        relation). ``related`` lists the rings whose members share at least
        ``min_related_links`` links with this ring's (the links its ``edges`` count: every
        coordination link, and the shared-customer links that survived the bridge cut), most
        links first (then the better ring), at most ``max_related`` (so a ring linked to many
        may be listed by one it does not list), and ``related_links`` how many distinct links
        each: the other groups of handsets of one device farm, a farm whose camouflage bots
        co-act with another.
        ``ring_score = mean_risk * (0.5 + 0.5 * density) * (1 - exp(-size / 5))``; synchrony is
        reported, not scored (slow and camouflaged campaigns work apart, fan groups in lockstep).
        An account attached through customers brings no link, so it lowers its ring's density
        (a camouflaged farm is a sparse ring, and its density says so).

    Raises:
        ConfigError: ``min_size`` is below 2.
    """
    if min_size < 2:
        raise ConfigError(f"min_size={min_size}: a ring has at least 2 accounts")
    n = len(account_ids)
    known = np.zeros(n, bool) if known is None else known
    risky = (risk >= risk_floor) | known
    ls, ld = (np.concatenate([e[0] for e in edges.links.values()]),
              np.concatenate([e[1] for e in edges.links.values()])) if edges.links else _no_edges()
    keep = risky[ls] & risky[ld]
    c_s, c_d = ls[keep], ld[keep]
    # shared customers only link accounts the coordination relations left out of every ring, so
    # a customer two campaigns both serve cannot merge their rings. This is decided before the
    # bridges are cut: an account tied to a ring only through a cut link is not re-linked by
    # shared customers (doing so found no campaign more on ten synthetic seeds and cost one
    # of them 0.982 -> 0.969 member precision), so it can end up in no ring.
    placed = _in_rings(n, risky, c_s, c_d, min_size)
    p_s, p_d = shared_target_pairs(edges.actions, risky, min_shared_targets, min_risky_share, linkable=risky & ~placed,
                                   peer_similarity=peer_similarity)
    ring_of = np.full(n, None, dtype=object)
    empty = pl.DataFrame(schema={"ring_id": pl.String, "size": pl.Int64, "edges": pl.Int64, "density": pl.Float64,
                                 "synchrony": pl.Float64, "mean_risk": pl.Float64, "ring_score": pl.Float64, "members": pl.List(pl.String),
                                 "related": pl.List(pl.String), "related_links": pl.List(pl.Int64)})
    if len(c_s) + len(p_s) == 0:
        return ring_of, empty
    s, d = drop_bridges(np.r_[c_s, p_s], np.r_[c_d, p_d], n)
    if split_density is None:
        _, comp = connected_components(sp.coo_matrix((np.ones(len(s)), (s, d)), shape=(n, n)).tocsr(), directed=False)
    else:
        comp = ring_communities(s, d, n, split_density)
    size = np.bincount(comp[risky], minlength=n)
    ring = np.where(risky & (size[comp] >= min_size), comp, -1)
    _attach(ring, (risk >= attach_share * risk_floor) | known, ls, ld, attach_links, attach_focus)
    members = np.bincount(ring[ring >= 0], minlength=n)
    news = np.bincount(ring[(ring >= 0) & ~known], minlength=n)  # a ring of banned accounts only tells no one anything
    seeded = np.bincount(ring[(ring >= 0) & known], minlength=n) >= min_known
    at = np.maximum(ring, 0)
    ring[(ring >= 0) & ((news[at] == 0) | (~seeded[at] & (members[at] < min_size_unseeded)))] = -1
    if customer_attach is not None:
        _attach_to_customers(ring, risky & ((risk >= customer_risk) | known), edges.actions, customer_attach,
                             customer_members, customer_share)
    if not (ring >= 0).any():
        return ring_of, empty
    # a ring's edges: the links that made it, and every coordination link between its members;
    # the same links between members of two rings relate them
    a, b = np.r_[s, np.minimum(ls, ld)], np.r_[d, np.maximum(ls, ld)]
    both = (ring[a] >= 0) & (ring[b] >= 0) & (a != b)
    pair = pl.DataFrame({"a": a[both], "b": b[both]}).unique()
    pair = pl.DataFrame({"ring": ring[pair["a"].to_numpy()], "other": ring[pair["b"].to_numpy()]})
    links = pair.filter(pl.col("ring") == pl.col("other")).group_by("ring").len().rename({"len": "edges"})
    between = pair.filter(pl.col("ring") != pl.col("other"))
    # a graph without a co-action relation (an imported static graph) cannot say: NaN, not 0
    sync = ring_synchrony(ring, edges.links["coaction"]) if "coaction" in edges.links else np.full(n, np.nan)
    frame = pl.DataFrame({"node": np.arange(n), "ring": ring, "risk": risk, "synchrony": sync[np.maximum(ring, 0)]})
    groups = (
        frame.filter(pl.col("ring") >= 0).group_by("ring")
        .agg(pl.len().alias("size"), pl.col("risk").mean().alias("mean_risk"), pl.col("synchrony").first(), pl.col("node"))
        .join(links, on="ring", how="left")
        .with_columns(pl.col("edges").fill_null(0))
        .with_columns((pl.col("edges") / (pl.col("size") * (pl.col("size") - 1) / 2)).clip(0, 1).alias("density"))
        .with_columns((pl.col("mean_risk") * (0.5 + 0.5 * pl.col("density")) * (1 - (-pl.col("size").cast(pl.Float64) / 5).exp())).alias("ring_score"))
        .sort("ring_score", "ring", descending=[True, False])
        .with_row_index("rank", offset=1)
        .with_columns(pl.format("R{}", pl.col("rank")).alias("ring_id"))
    )
    groups = groups.join(_related(between, groups.select("ring", "rank", "ring_id"), min_related_links, max_related), on="ring", how="left")
    members = []
    for ring_id, nodes in groups.select("ring_id", "node").iter_rows():
        ring_of[np.asarray(nodes)] = ring_id
        members.append(sorted(account_ids[np.asarray(nodes)].tolist()))
    table = groups.with_columns(pl.Series("members", members, dtype=pl.List(pl.String))).select(
        "ring_id", pl.col("size").cast(pl.Int64), pl.col("edges").cast(pl.Int64), "density", "synchrony", "mean_risk", "ring_score",
        "members", pl.col("related").fill_null([]), pl.col("related_links").fill_null([]))
    return ring_of, table


def _related(between: pl.DataFrame, ids: pl.DataFrame, min_links: int, max_related: int) -> pl.DataFrame:
    """``ring, related, related_links``: per ring, up to ``max_related`` of the rings it has at
    least ``min_links`` links to, most links first (then the better ring), and the number of
    distinct links to each.

    Args:
        between: ``ring, other``: one row per distinct link between members of two rings.
        ids: ``ring, rank, ring_id`` of every ring.
        min_links: Fewest links that relate two rings.
        max_related: Most related rings listed per ring.
    """
    pairs = pl.concat([between, between.select(pl.col("other").alias("ring"), pl.col("ring").alias("other"))])
    other = ids.rename({"ring": "other", "rank": "other_rank", "ring_id": "related"})
    return (pairs.group_by("ring", "other").len().rename({"len": "related_links"})
            .filter(pl.col("related_links") >= min_links)
            .join(other, on="other")
            .sort("ring", "related_links", "other_rank", descending=[False, True, False])
            .group_by("ring", maintain_order=True)
            .agg(pl.col("related").head(max_related), pl.col("related_links").head(max_related).cast(pl.Int64)))
