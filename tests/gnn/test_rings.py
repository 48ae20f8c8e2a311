"""Rings on hand-made graphs: coordination links, shared targets, and what must not link."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from gnn import rings
from gnn.data import NODE, GraphTensors
from gnn.rings import RingEdges, drop_bridges, find_rings, ring_synchrony, shared_target_pairs
from ringwatch.errors import ConfigError

NO_LINKS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _edges(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    a = np.array(pairs, np.int64).reshape(-1, 2)
    return a[:, 0], a[:, 1]


def _pairs(edges: tuple[np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    return set(zip(edges[0].tolist(), edges[1].tolist(), strict=True))


def test_accounts_serving_the_same_customers_are_paired() -> None:
    # 0, 1, 2 each act on customers 10 and 11 (1 twice, by two relations); 3 acts on 10 only
    actions = _edges([(0, 10), (0, 11), (1, 10), (1, 10), (1, 11), (2, 11), (2, 10), (3, 10)])
    risky = np.ones(12, bool)
    assert _pairs(shared_target_pairs(actions, risky, 2, min_risky_share=0.5)) == {(0, 1), (0, 2), (1, 2)}
    # a repeated row is one target, not two: with three shared targets needed nobody pairs
    assert _pairs(shared_target_pairs(actions, risky, 3, min_risky_share=0.5)) == set()
    # 3 shares one customer with each of them: no pair


def test_nobody_risky_or_no_actions_gives_no_pairs_and_no_rings() -> None:
    actions = _edges([(0, 5), (1, 5), (0, 6), (1, 6)])
    assert _pairs(shared_target_pairs(actions, np.zeros(7, bool), 2, min_risky_share=0.3)) == set()
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert _pairs(shared_target_pairs(none, np.ones(7, bool), 2, min_risky_share=0.3)) == set()
    ids = np.array([f"a{i}" for i in range(7)])
    ring_of, table = find_rings(ids, np.full(7, 0.1), RingEdges({}, actions), risk_floor=0.25, min_size_unseeded=0)
    assert table.is_empty() and all(r is None for r in ring_of)
    assert table.schema == pl.Schema({"ring_id": pl.String, "size": pl.Int64, "edges": pl.Int64, "density": pl.Float64,
                                      "synchrony": pl.Float64, "mean_risk": pl.Float64, "ring_score": pl.Float64,
                                      "members": pl.List(pl.String), "related": pl.List(pl.String),
                                      "related_links": pl.List(pl.Int64)})


def test_targets_with_a_mostly_organic_audience_and_accounts_below_the_floor_link_no_one() -> None:
    fans = [(a, 20) for a in range(10)] + [(a, 21) for a in range(10)]  # ten accounts follow stars 20 and 21
    actions = _edges(fans + [(0, 15), (1, 15)])
    risky = np.zeros(22, bool)
    risky[[0, 1, 2, 3]] = True  # four of each star's ten followers are risky
    # 0 and 1 share the stars and the small account 15: 15 alone is a customer, one is not enough
    assert _pairs(shared_target_pairs(actions, risky, 2, min_risky_share=0.5)) == set()
    assert _pairs(shared_target_pairs(actions, risky, 2, min_risky_share=0.4)) == {
        (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)}
    risky[1] = False
    assert (1, 2) not in _pairs(shared_target_pairs(actions, risky, 2, min_risky_share=0.4))


def test_a_slow_campaign_without_lockstep_is_one_ring() -> None:
    # accounts 0-4 each serve two or three of customers 20-22 on different days: no co-action
    # edge, no shared device; account 5 (risky) shares one customer with them but has peers of
    # its own (23 and 24, on customer 25); 6-19 are organic
    n = 26
    actions = _edges([(0, 20), (0, 21), (1, 21), (1, 22), (2, 20), (2, 22), (3, 20), (3, 21), (3, 22),
                      (4, 22), (4, 20), (5, 20), (5, 25), (23, 25), (24, 25)] + [(a, 6 + (a + 1) % 14) for a in range(6, 20)])
    risk = np.full(n, 0.05)
    risk[:6] = risk[23:25] = 0.9
    ids = np.array([f"a{i:02d}" for i in range(n)])
    no_lockstep = {"coaction": _edges([])}  # the graph has the relation; none of them is in it
    ring_of, table = find_rings(ids, risk, RingEdges(no_lockstep, actions), risk_floor=0.25, min_size_unseeded=0)
    assert table.height == 1
    assert table["members"][0].to_list() == [f"a{i:02d}" for i in range(5)]
    # pairs with two customers in common: 0-3, 1-3, 2-3, 2-4, 3-4; the other five share one
    # and have nearly the same peers (structural similarity 0.91 or 1)
    assert table["size"][0] == 5 and table["edges"][0] == 10 and table["density"][0] == 1.0
    assert table["synchrony"][0] == 0.0  # they share customers, never in lockstep
    assert ring_of[5] is None and all(r is None for r in ring_of[6:])
    # by the two-customer rule alone the same five are the ring, half as dense
    _, alone = find_rings(ids, risk, RingEdges(no_lockstep, actions), risk_floor=0.25, min_size_unseeded=0,
                          peer_similarity=None)
    assert alone["members"].to_list() == table["members"].to_list() and alone["edges"][0] == 5
    # without peers of its own, 5's peers are the campaign's (similarity 5/sqrt(30) = 0.91 with
    # 0, 2 and 4): a risky account whose one customer is the campaign's joins it
    lone = RingEdges(no_lockstep, (actions[0][:12], actions[1][:12]))
    ring_of, table = find_rings(ids, risk, lone, risk_floor=0.25, min_size_unseeded=0)
    assert table["members"].to_list() == [[f"a{i:02d}" for i in range(6)]]
    assert find_rings(ids, risk, lone, risk_floor=0.25, min_size_unseeded=0, peer_similarity=None)[1]["size"][0] == 5


def test_bots_with_one_job_each_are_linked_by_their_common_peers() -> None:
    # a proxy pool on a short run: bots 0-5 each did one job, for customer 20 (no pair shares
    # two customers); organic 9-14 also follow 20; risky fan 6 liked 20 too, but also 21 with
    # its own friends 7, 8 and 15
    actions = _edges([(b, 20) for b in range(7)] + [(o, 20) for o in range(9, 15)] + [(f, 21) for f in (6, 7, 8, 15)])
    risky = np.zeros(22, bool)
    risky[[0, 1, 2, 3, 4, 5, 6, 7, 8, 15]] = True
    bots = {(a, b) for a in range(6) for b in range(a + 1, 6)}
    friends = {(7, 8), (7, 15), (8, 15)}
    # closed peer sets: a bot's is 0-6 (7), the fan's 0-8 and 15 (10): bot-fan similarity
    # 7 / sqrt(7 * 10) = 0.84; bot-bot 1.0; the friends' {6, 7, 8, 15}: 1.0, each with the fan 0.63
    assert _pairs(shared_target_pairs(actions, risky, 2, 0.2, peer_similarity=0.9)) == bots | friends
    assert _pairs(shared_target_pairs(actions, risky, 2, 0.2, peer_similarity=0.8)) == bots | friends | {(b, 6) for b in range(6)}
    assert _pairs(shared_target_pairs(actions, risky, 2, 0.2)) == set()  # the two-customer rule alone
    ids = np.array([f"a{i:02d}" for i in range(22)])
    ring_of, table = find_rings(ids, np.where(risky, 0.9, 0.05), RingEdges({}, actions), risk_floor=0.25, min_size_unseeded=0)
    assert table["members"].to_list() == [[f"a{i:02d}" for i in range(6)]]  # the friends are three, under min_size
    assert ring_of[6] is None


def test_peer_similarity_matches_a_brute_force_count(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    n_acc, n_cust = 40, 12
    actions = _edges([(a, n_acc + int(c)) for a in range(n_acc) for c in rng.choice(n_cust, int(rng.integers(1, 3)), replace=False)])
    risky = np.ones(n_acc + n_cust, bool)
    cust: dict[int, set[int]] = {a: set() for a in range(n_acc)}
    for a, t in zip(*actions, strict=True):
        cust[int(a)].add(int(t))
    peers = {a: {b for b in cust if b != a and cust[a] & cust[b]} for a in cust}
    expect = set()
    for a in cust:
        for b in peers[a]:
            sim = len((peers[a] | {a}) & (peers[b] | {b})) / np.sqrt((len(peers[a]) + 1) * (len(peers[b]) + 1))
            if a < b and (len(cust[a] & cust[b]) >= 2 or (sim >= 0.75 and min(len(peers[a]), len(peers[b])) >= 2)):
                expect.add((a, b))
    assert _pairs(shared_target_pairs(actions, risky, 2, 0.0, peer_similarity=0.75)) == expect
    assert len(expect) > len(_pairs(shared_target_pairs(actions, risky, 2, 0.0)))  # similarity linked some pairs
    for chunk in (1, 7, 200):  # the memory-bounded chunks give the same answer
        monkeypatch.setattr(rings, "_CHUNK", chunk)
        assert _pairs(shared_target_pairs(actions, risky, 2, 0.0, peer_similarity=0.75)) == expect
    # an account with more peers than MAX_PEERS is linked by two shared customers only
    monkeypatch.setattr(rings, "MAX_PEERS", 8)
    capped = {(a, b) for a, b in expect if len(cust[a] & cust[b]) >= 2 or max(len(peers[a]), len(peers[b])) <= 8}
    assert capped != expect
    assert _pairs(shared_target_pairs(actions, risky, 2, 0.0, peer_similarity=0.75)) == capped


def test_shared_customers_never_merge_rings_the_coordination_relations_found() -> None:
    # two campaigns, each one ring by its coordination links, both serving customers 20 and 21;
    # 13-15 have no coordination edge but serve customers 22 and 23; 16 (risky) is alone
    links = {"shared_device": _edges([(0, 1), (10, 11)]), "coaction": _edges([(1, 2), (11, 12), (7, 8)])}
    both = [(a, c) for a in (0, 1, 2, 10, 11, 12) for c in (20, 21)]
    actions = _edges(both + [(a, c) for a in (13, 14, 15) for c in (22, 23)] + [(16, 20), (16, 21)])
    risk = np.full(24, 0.05)
    risk[[0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 7]] = 0.9  # 8 is below the floor, so 7 has no partner
    ids = np.array([f"a{i:02d}" for i in range(24)])
    ring_of, table = find_rings(ids, risk, RingEdges(links, actions), risk_floor=0.25, min_size=3, min_size_unseeded=0,
                                customer_attach=None)
    assert sorted(table["members"].to_list()) == [["a00", "a01", "a02"], ["a10", "a11", "a12"], ["a13", "a14", "a15"]]
    assert table.filter(pl.col("members").list.first() == "a13")["edges"][0] == 3  # 13-14, 13-15, 14-15
    # 16 serves the same two customers as both campaigns, but their members are already in rings
    assert ring_of[16] is None and ring_of[7] is None and ring_of[8] is None
    # attaching to customers takes 16 into one ring (both served alike: the first), never merges the two
    ring_of, table = find_rings(ids, risk, RingEdges(links, actions), risk_floor=0.25, min_size=3, min_size_unseeded=0)
    assert sorted(table["members"].to_list()) == [["a00", "a01", "a02", "a16"], ["a10", "a11", "a12"], ["a13", "a14", "a15"]]
    assert ring_of[7] is None and ring_of[8] is None


def test_ring_edges_of_a_graph() -> None:
    ei = {
        (NODE, "follow", NODE): torch.tensor([[0, 1], [2, 2]]),
        (NODE, "rev_follow", NODE): torch.tensor([[2, 2], [0, 1]]),
        (NODE, "unfollow", NODE): torch.tensor([[0], [3]]),
        (NODE, "rev_unfollow", NODE): torch.tensor([[3], [0]]),
        (NODE, "coaction", NODE): torch.tensor([[0, 1], [1, 0]]),  # both directions, stored once
        (NODE, "shared_ip", NODE): torch.tensor([[2, 3], [3, 2]]),  # infrastructure, not a ring link
    }
    graph = GraphTensors(np.array(["a", "b", "c", "d"]), None, torch.zeros(4, 1), ei, {})  # type: ignore[arg-type]
    edges = RingEdges.of(graph)
    assert set(edges.links) == {"coaction"} and _pairs(edges.links["coaction"]) == {(0, 1)}
    assert _pairs(edges.actions) == {(0, 2), (1, 2)}  # no unfollows, no reverse edges


def test_a_lone_link_between_two_dense_groups_is_cut() -> None:
    # two farms, each a 4-clique of shared devices, joined by one reused comment text (3-4)
    clique = [(a, b) for g in (0, 4) for a in range(g, g + 4) for b in range(a + 1, g + 4)]
    links = {"shared_device": _edges(clique), "same_text": _edges([(3, 4)])}
    ids = np.array([f"a{i}" for i in range(8)])
    ring_of, table = find_rings(ids, np.full(8, 0.9), RingEdges(links, _edges([])), risk_floor=0.25, min_size_unseeded=0)
    assert sorted(table["members"].to_list()) == [["a0", "a1", "a2", "a3"], ["a4", "a5", "a6", "a7"]]
    assert table["edges"].to_list() == [6, 6] and table["density"].to_list() == [1.0, 1.0]
    # a chain keeps every link: no end of 0-1, 1-2, 2-3 has two other links
    ring_of, table = find_rings(ids, np.full(8, 0.9), RingEdges({"coaction": _edges([(0, 1), (1, 2), (2, 3)])}, _edges([])),
                                risk_floor=0.25, min_size_unseeded=0)
    assert table["members"].to_list() == [["a0", "a1", "a2", "a3"]] and table["edges"][0] == 3


def test_two_farms_joined_by_links_in_triangles_are_two_rings() -> None:
    # two farms of 12 on shared devices; two bots of the first co-act with two of the second
    # (0-12, 0-13, 1-12, 1-13: every link in a triangle, so the bridge cut keeps them all)
    clique = [(a, b) for g in (0, 12) for a in range(g, g + 12) for b in range(a + 1, g + 12)]
    links = {"shared_device": _edges(clique), "coaction": _edges([(0, 12), (0, 13), (1, 12), (1, 13)])}
    ids = np.array([f"a{i:02d}" for i in range(24)])
    ring_edges = RingEdges(links, _edges([]))
    _, table = find_rings(ids, np.full(24, 0.9), ring_edges, risk_floor=0.25, min_size_unseeded=0)
    assert sorted(table["members"].to_list()) == [[f"a{i:02d}" for i in range(12)], [f"a{i:02d}" for i in range(12, 24)]]
    assert table["edges"].to_list() == [66, 66]  # the links between the farms belong to neither ring
    _, whole = find_rings(ids, np.full(24, 0.9), ring_edges, risk_floor=0.25, min_size_unseeded=0, split_density=None)
    assert whole["size"].to_list() == [24] and whole["edges"][0] == 136
    assert whole["related"].to_list() == [[]] and whole["related_links"].to_list() == [[]]


def test_rings_joined_by_two_or_more_links_name_each_other_as_related() -> None:
    # three farms of 12 on shared devices (0-11, 12-23, 24-35); farms 1 and 2 share the four
    # links in triangles of the test above, farms 2 and 3 two, farms 1 and 3 one: one link is a
    # coincidence, not a relation
    clique = [(a, b) for g in (0, 12, 24) for a in range(g, g + 12) for b in range(a + 1, g + 12)]
    seams = [(0, 12), (0, 13), (1, 12), (1, 13), (14, 24), (14, 25), (2, 26)]
    ids = np.array([f"a{i:02d}" for i in range(36)])
    ring_edges = RingEdges({"shared_device": _edges(clique), "coaction": _edges(seams)}, _edges([]))
    ring_of, table = find_rings(ids, np.full(36, 0.9), ring_edges, risk_floor=0.25, min_size_unseeded=0)
    farm = {ring_of[g]: g // 12 for g in (0, 12, 24)}
    assert sorted(farm.values()) == [0, 1, 2]
    related = {farm[r]: [(farm[o], k) for o, k in zip(rel, links, strict=True)]
               for r, rel, links in table.select("ring_id", "related", "related_links").iter_rows()}
    assert related == {0: [(1, 4)], 1: [(0, 4), (2, 2)], 2: [(1, 2)]}  # most links first
    assert table.schema == find_rings(ids, np.zeros(36), ring_edges, risk_floor=0.25)[1].schema  # as an empty table's
    # two rings with as many links: the better one (the lower rank) first
    tie = RingEdges({"shared_device": _edges(clique), "coaction": _edges([(0, 12), (0, 13), (14, 24), (14, 25)])}, _edges([]))
    tied_of, tied = find_rings(ids, np.full(36, 0.9), tie, risk_floor=0.25, min_size_unseeded=0)
    middle = tied.filter(pl.col("ring_id") == tied_of[12])
    assert middle["related_links"].to_list() == [[2, 2]]
    assert middle["related"].to_list() == [sorted([tied_of[0], tied_of[24]], key=lambda r: int(r[1:]))]
    # the threshold and the list's length are parameters
    _, loose = find_rings(ids, np.full(36, 0.9), ring_edges, risk_floor=0.25, min_size_unseeded=0, min_related_links=1,
                          max_related=1)
    assert {farm[r]: [farm[o] for o in rel] for r, rel in loose.select("ring_id", "related").iter_rows()} == {0: [1], 1: [0], 2: [1]}


def test_shared_customer_links_relate_rings_found_by_shared_customers() -> None:
    # two campaigns with no lockstep, each of 10 accounts serving its own two customers (100-101,
    # 102-103); two side jobs (customers 200-201 for 0, 1 and 10; 202-203 for 2, 11 and 12) link
    # them by four shared-customer pairs, each in a triangle: too sparse a seam for one ring
    jobs = [(a, c) for a in range(10) for c in (100, 101)] + [(a, c) for a in range(10, 20) for c in (102, 103)]
    jobs += [(a, c) for a in (0, 1, 10) for c in (200, 201)] + [(a, c) for a in (2, 11, 12) for c in (202, 203)]
    ids = np.array([f"a{i:03d}" for i in range(204)])
    risk = np.where(np.arange(204) < 20, 0.9, 0.0)
    ring_of, table = find_rings(ids, risk, RingEdges({}, _edges(jobs)), risk_floor=0.25, min_size_unseeded=0)
    assert sorted(table["size"].to_list()) == [10, 10] and ring_of[0] != ring_of[10]
    assert dict(table.select("ring_id", "related").iter_rows()) == {ring_of[0]: [ring_of[10]], ring_of[10]: [ring_of[0]]}
    assert table["related_links"].to_list() == [[4], [4]]


def test_drop_bridges_matches_a_brute_force_triangle_check(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    n = 60
    # dense groups (so the probe finds most triangles) plus random sparse links between them
    pairs = [(a, b) for g in range(0, 60, 15) for a in range(g, g + 15) for b in range(a + 1, g + 15) if rng.random() < 0.6]
    pairs += [tuple(rng.choice(n, 2, replace=False)) for _ in range(40)]
    src, dst = _edges([(int(a), int(b)) for a, b in pairs])
    nbr: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in zip(src.tolist(), dst.tolist(), strict=True):
        if a != b:
            nbr[a].add(b)
            nbr[b].add(a)
    expect = {(min(a, b), max(a, b)) for a in nbr for b in nbr[a]
              if not (len(nbr[a]) >= 3 and len(nbr[b]) >= 3 and not (nbr[a] & nbr[b]))}
    for probe in (1, 8, 100):
        assert _pairs(drop_bridges(src, dst, n, probe=probe)) == expect
    for chunk in (1, 7):  # the memory-bounded chunks give the same answer
        monkeypatch.setattr(rings, "_CHUNK", chunk)
        assert _pairs(drop_bridges(src, dst, n, probe=2)) == expect
    assert len(expect) < sum(len(v) for v in nbr.values()) // 2  # some links were bridges


def test_accounts_just_below_the_floor_join_the_ring_they_are_tied_to() -> None:
    # ring 0-3 (shared devices, risk 0.9); 4 (risk 0.15) shares devices with 0 and 1; 5 (0.15)
    # with 0 only; 6 (0.10, under half the floor) with 0, 1 and 2
    ring = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    links = {"shared_device": _edges(ring + [(0, 4), (1, 4), (0, 5), (0, 6), (1, 6), (2, 6)])}
    risk = np.array([0.9, 0.9, 0.9, 0.9, 0.15, 0.15, 0.10])
    ids = np.array([f"a{i}" for i in range(7)])
    ring_of, table = find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, min_size_unseeded=0)
    assert table["members"].to_list() == [["a0", "a1", "a2", "a3", "a4"]]
    assert table["edges"][0] == 8 and table["density"][0] == 0.8  # the 6 ring links and 4's two
    assert ring_of[4] == "R1" and ring_of[5] is None and ring_of[6] is None
    # attaching is tunable: with the attach floor above 4's risk it stays out; with one link enough 5 joins too
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, attach_share=2.0, min_size_unseeded=0)[1]["size"][0] == 4
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, attach_links=1, min_size_unseeded=0)[1]["size"][0] == 6


def test_a_camouflaged_bot_joins_the_ring_whose_customers_it_served() -> None:
    # ring 0-3 (shared devices); its orders: all four on customers 20, 21 and 22, whose audiences
    # are 28 organic rows (from 30-57) each, so no shared-customer link forms there; 23 has 2
    # members, 24 is a star (3 members in 55 rows), 13 is a risky account 0-2 act on. Outside
    # every ring, with no link: 4 served 20 and 21; 5 only 20; 6 served 20 and 21 at risk 0.4
    # (over the floor, not over even odds); 7 served 23 and 24; 8 served 20 and 21 and is known
    # with a low score; 9 served 20 and 22, 20 twice; 10 served 21 twice (by two relations);
    # 11 served 22 and the star; 12 served 21 and 23; 13 served 22 and itself
    ring = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    orders = ([(m, c) for c in (20, 21, 22) for m in range(4)] + [(0, 23), (1, 23)] + [(m, 24) for m in (0, 1, 2)]
              + [(m, 13) for m in (0, 1, 2)])
    organic = [(a, c) for c in (20, 21, 22) for a in range(30, 58)] + [(a, 24) for a in range(30, 80)]
    served = [(4, 20), (4, 21), (5, 20), (6, 20), (6, 21), (7, 23), (7, 24), (8, 20), (8, 21), (9, 20), (9, 20), (9, 22),
              (10, 21), (10, 21), (11, 22), (11, 24), (12, 21), (12, 23), (13, 22), (13, 13)]
    edges = RingEdges({"shared_device": _edges(ring)}, _edges(orders + organic + served))
    risk = np.full(80, 0.05)
    risk[[0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13]] = 0.9
    risk[6] = 0.4
    known = np.zeros(80, bool)
    known[8] = True
    ids = np.array([f"a{i:02d}" for i in range(80)])
    ring_of, table = find_rings(ids, risk, edges, risk_floor=0.25, known=known, min_size_unseeded=0)
    assert table["members"].to_list() == [["a00", "a01", "a02", "a03", "a04", "a08", "a09"]]
    assert all(ring_of[i] is None for i in (5, 6, 7, 10, 11, 12, 13))
    assert table["edges"][0] == 6  # attached through customers, not links
    # tunable: three customers needed; or customers with two members and a 5% share, at risk 0.3
    assert find_rings(ids, risk, edges, risk_floor=0.25, known=known, min_size_unseeded=0,
                      customer_attach=3)[1]["size"][0] == 4
    loose = find_rings(ids, risk, edges, risk_floor=0.25, known=known, min_size_unseeded=0, customer_members=2,
                       customer_share=0.05, customer_risk=0.3)[0]
    assert all(loose[i] == "R1" for i in (4, 6, 7, 8, 9, 11, 12)) and all(loose[i] is None for i in (5, 10, 13))
    assert find_rings(ids, risk, edges, risk_floor=0.25, known=known, min_size_unseeded=0,
                      customer_attach=None)[1]["size"][0] == 4


def test_an_account_serving_two_rings_joins_the_one_it_served_most() -> None:
    # rings 0-3 and 10-13 (shared devices); 0-2 act on 20, 21 and 25, all of 10-13 on 22, 23 and 24.
    # 5 served two customers of each ring: a tie, broken by the members on them (6 against 8),
    # not by the ring's order; 6 served three of the first ring's customers and one of the second's
    rings = [(a, b) for g in (0, 10) for a in range(g, g + 4) for b in range(a + 1, g + 4)]
    orders = [(m, c) for c in (20, 21, 25) for m in (0, 1, 2)] + [(m, c) for c in (22, 23, 24) for m in (10, 11, 12, 13)]
    risk = np.full(26, 0.05)
    risk[[0, 1, 2, 3, 10, 11, 12, 13, 5, 6]] = 0.9
    ids = np.array([f"a{i:02d}" for i in range(26)])
    actions = _edges(orders + [(5, 20), (5, 21), (5, 22), (5, 23), (6, 20), (6, 21), (6, 25), (6, 22)])
    ring_of, _ = find_rings(ids, risk, RingEdges({"shared_device": _edges(rings)}, actions), risk_floor=0.25,
                            min_size_unseeded=0)
    first, second = ring_of[0], ring_of[10]
    assert first != second and ring_of[5] == second and ring_of[6] == first


def test_known_abusive_accounts_count_as_risky_whatever_their_score() -> None:
    # a campaign scored low (0.3) as a whole: nothing is a ring, until its banned part is known
    links = {"coaction": _edges([(a, b) for a in range(6) for b in range(a + 1, 6)] + [(6, 7), (7, 8)])}
    risk = np.full(9, 0.3)
    ids = np.array([f"a{i}" for i in range(9)])
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.5)[1].is_empty()
    known = np.zeros(9, bool)
    known[[0, 1, 2, 3]] = True
    _, table = find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.5, known=known)
    # 0-3 are a ring by themselves; 4 and 5 (0.3 ≥ half the floor, four of their five partners
    # in it) join it; 6-8 are linked to no one known and stay out
    assert table["members"].to_list() == [[f"a{i}" for i in range(6)]] and table["density"][0] == 1.0
    # a ring of banned accounts only tells an investigator nothing: not published
    only_known = {"coaction": _edges([(a, b) for a in range(4) for b in range(a + 1, 4)])}
    assert find_rings(ids, risk, RingEdges(only_known, _edges([])), risk_floor=0.5, known=known)[1].is_empty()


def test_an_account_tied_to_two_rings_alike_joins_the_first() -> None:
    # two 4-cliques; 8 (just below the floor) has two partners in each
    cliques = [(a, b) for g in (0, 4) for a in range(g, g + 4) for b in range(a + 1, g + 4)]
    links = {"shared_device": _edges(cliques + [(8, 0), (8, 1), (8, 4), (8, 5)])}
    risk = np.r_[np.full(8, 0.9), 0.2]
    ids = np.array([f"a{i}" for i in range(9)])
    ring_of, _ = find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, min_size_unseeded=0)
    assert ring_of[8] is None  # half its partners in each ring: not two thirds in either
    ring_of, _ = find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, attach_focus=0.5, min_size_unseeded=0)
    assert ring_of[8] == ring_of[0] != ring_of[4]


def test_three_accounts_on_one_device_are_not_a_ring_by_default() -> None:
    # a household shares its devices as densely as a farm; four accounts are the smallest ring
    links = {"shared_device": _edges([(0, 1), (0, 2), (1, 2), (4, 5), (4, 6), (4, 7), (5, 6), (5, 7), (6, 7)])}
    ids = np.array([f"a{i}" for i in range(8)])
    _, table = find_rings(ids, np.full(8, 0.9), RingEdges(links, _edges([])), risk_floor=0.25, min_size_unseeded=0)
    assert table["members"].to_list() == [["a4", "a5", "a6", "a7"]]
    assert np.isnan(table["synchrony"][0])  # no co-action relation in the graph: unknown, not "never in lockstep"
    assert find_rings(ids, np.full(8, 0.9), RingEdges(links, _edges([])), risk_floor=0.25, min_size=3, min_size_unseeded=0)[1].height == 2
    with pytest.raises(ConfigError, match="at least 2"):  # one account has no density
        find_rings(ids, np.full(8, 0.9), RingEdges(links, _edges([])), min_size=1)


def test_a_small_ring_needs_two_known_members() -> None:
    # five flagged accounts on shared devices and no banned one among them: a coincidence as
    # often as a farm (households, giveaway entrants); so are one banned account and the
    # neighbours its label raised; with two banned members it is a ring
    links = {"shared_device": _edges([(a, b) for a in range(5) for b in range(a + 1, 5)])}
    ids = np.array([f"a{i}" for i in range(5)])
    risk = np.full(5, 0.9)
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25)[1].is_empty()
    known = np.zeros(5, bool)
    known[0] = True
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, known=known)[1].is_empty()
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, known=known, min_known=1)[1]["size"].to_list() == [5]
    known[3] = True
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, known=known)[1]["size"].to_list() == [5]
    assert find_rings(ids, risk, RingEdges(links, _edges([])), risk_floor=0.25, min_size_unseeded=5)[1]["size"].to_list() == [5]


def test_synchrony_is_the_share_of_members_in_lockstep_with_another_member() -> None:
    # ring 0: members 0-3; 0-1 co-acted -> 2 of 4; ring 1: 4-7 in a co-action chain -> 1; the
    # 3-4 link crosses rings and 11-2 leaves them (11 is in no ring): they count for neither.
    # Ring 2 (8, 9) never co-acted -> 0.
    ring = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, -1, -1])
    coaction = _edges([(0, 1), (1, 0), (3, 4), (11, 2), (4, 5), (6, 5), (7, 6)])
    sync = ring_synchrony(ring, coaction)
    assert sync[:3].tolist() == [0.5, 1.0, 0.0]
    assert ring_synchrony(np.full(12, -1), coaction).tolist() == [0.0] * 12


def test_a_farm_in_lockstep_has_synchrony_one_in_the_ring_table() -> None:
    # five bots on one device liking customer 9 in the same bursts
    clique = [(a, b) for a in range(5) for b in range(a + 1, 5)]
    links = {"shared_device": _edges(clique), "coaction": _edges(clique)}
    ids = np.array([f"a{i}" for i in range(10)])
    _, table = find_rings(ids, np.full(10, 0.9), RingEdges(links, _edges([(a, 9) for a in range(5)])),
                          risk_floor=0.25, min_size_unseeded=0)
    assert table["members"].to_list() == [[f"a{i}" for i in range(5)]]
    assert table["synchrony"].to_list() == [1.0] and table["density"].to_list() == [1.0]
