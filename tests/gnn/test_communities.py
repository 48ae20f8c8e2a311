"""Dense communities of ring links (Leiden, constant Potts model) on hand-made graphs."""

from __future__ import annotations

import random

import numpy as np

from gnn.communities import ring_communities

DENSITY = 0.05  # gnn.rings.find_rings' default


def _clique(first: int, size: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(first, first + size) for b in range(a + 1, first + size)]


def _label(pairs: list[tuple[int, int]], n: int, density: float = DENSITY) -> np.ndarray:
    a, b = np.array(pairs, np.int64).reshape(-1, 2).T
    return ring_communities(a, b, n, density)


def _groups(label: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(label == v).tolist()) for v in np.unique(label)}


def test_two_farms_joined_by_a_few_links_are_two_communities() -> None:
    # farms 0-11 and 12-23 joined by 0-12, 1-12, 0-13, 1-13 (every link in a triangle); 24, 25 unlinked
    label = _label(_clique(0, 12) + _clique(12, 12) + [(0, 12), (1, 12), (0, 13), (1, 13)], 26)
    assert _groups(label) == {frozenset(range(12)), frozenset(range(12, 24)), frozenset({24}), frozenset({25})}
    assert label.min() >= 0 and label.max() < 26


def test_handset_cliques_joined_by_many_links_stay_one_farm() -> None:
    # three handsets of 8 bots; each bot co-acts with two bots on each other handset (a quarter of the pairs)
    co = [(a, b) for a in range(24) for b in range(24) if a // 8 < b // 8 and (a + b) % 4 == 0]
    assert len(co) == 48
    assert _groups(_label(_clique(0, 8) + _clique(8, 8) + _clique(16, 8) + co, 24)) == {frozenset(range(24))}


def test_an_account_with_a_link_or_two_into_a_big_farm_is_cut_off() -> None:
    farm = _clique(0, 41)  # joining needs strictly more than 0.05 * 41 = 2.05 links (at 40, two would tie)
    for links, joined in ((1, False), (2, False), (3, True)):
        label = _label(farm + [(41, i) for i in range(links)], 42)
        assert bool(label[41] == label[0]) == joined
        assert len(np.unique(label[:41])) == 1


def test_small_chains_and_stars_stay_whole() -> None:
    # cutting a chain in two costs one link (2 in igraph's quality) and saves density × 2 × |A| × |B|:
    # it pays from 10 accounts (at 9, 4 + 5, it ties); shedding a leaf of a star of k pays when
    # k - 1 > 1 / density (at 21 it ties)
    chain = [(i, i + 1) for i in range(7)]  # 8 accounts
    star = [(10, i) for i in range(11, 30)]  # 20 accounts
    unlinked = {frozenset({8}), frozenset({9})}
    assert _groups(_label(chain + star, 30)) == {frozenset(range(8)), frozenset(range(10, 30))} | unlinked
    longer = _label([(i, i + 1) for i in range(29)], 30)  # a chain of 30 comes apart
    assert len(np.unique(longer)) > 1


def test_the_same_links_give_the_same_labels_and_leave_random_alone() -> None:
    rng = np.random.default_rng(0)
    pairs = [(int(a), int(b)) for a, b in rng.integers(0, 60, (300, 2)) if a != b]
    random.seed(7)
    expected = random.random()
    random.seed(7)
    first = _label(pairs, 60, density=0.2)
    assert random.random() == expected  # igraph's seeded generator is not left behind
    assert len(np.unique(first)) > 1
    np.testing.assert_array_equal(first, _label(pairs, 60, density=0.2))
    np.testing.assert_array_equal(ring_communities(np.zeros(0, np.int64), np.zeros(0, np.int64), 3, DENSITY), [0, 1, 2])
