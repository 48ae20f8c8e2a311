"""The static-graph import path: every reader, canonical edges, and clear errors for bad arrays."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from graphs.import_static import read_static, relation_table, undirected_pairs
from ringwatch.errors import InputError

X = np.arange(8, dtype=np.float32).reshape(4, 2)
Y = np.array([0, 1, 0, 1])
PAIRS = [(0, 1), (1, 2), (2, 3)]


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _mat(path: Path, network: sp.spmatrix, labels: np.ndarray = Y) -> Path:
    scipy.io.savemat(path, {"Network": network, "Attributes": X, "Label": labels.reshape(1, -1)})
    return path


def _pairs(g: object) -> list[tuple[int, int]]:
    return [tuple(p) for p in g.edges.tolist()]  # type: ignore[attr-defined]


def test_undirected_pairs_keep_each_pair_once_whichever_way_it_was_stored() -> None:
    e = undirected_pairs(np.array([[2, 1], [1, 2], [0, 3], [3, 3], [0, 3]]))
    assert e.tolist() == [[0, 3], [1, 2]]


@pytest.mark.parametrize("stored", ["both", "lower", "upper"])
def test_a_mat_network_stored_one_way_or_both_imports_every_edge(tmp_path: Path, stored: str) -> None:
    rows, cols = np.array(PAIRS).T
    a = sp.coo_matrix((np.ones(3), (rows, cols)), shape=(4, 4))
    net = {"both": a + a.T, "lower": a.T, "upper": a}[stored]
    g = read_static(_mat(tmp_path / "g.mat", sp.csc_matrix(net)))
    assert _pairs(g) == PAIRS and g.labels.tolist() == Y.tolist()
    assert relation_table(g).height == 6  # stored both ways in the snapshot


def test_a_pyg_edge_index_stored_one_way_imports_every_edge(tmp_path: Path) -> None:
    one_way = np.array([[1, 2, 3], [0, 1, 2]])  # src > dst throughout
    g = read_static(_npz(tmp_path / "g.npz", x=X, edge_index=one_way, y=Y))
    assert _pairs(g) == PAIRS
    both = np.concatenate([one_way, one_way[::-1]], axis=1)
    assert _pairs(read_static(_npz(tmp_path / "h.npz", x=X, edge_index=both, y=Y.astype(bool)))) == PAIRS


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x": X, "edge_index": np.array([[0], [-1]]), "y": Y}, "outside 0..3"),
    ({"x": X, "edge_index": np.array([[0], [9]]), "y": Y}, "outside 0..3"),
    ({"x": X, "edge_index": np.array([[0], [1]]), "y": Y[:3]}, "one label per node"),
    ({"x": X, "edge_index": np.array([[0], [1]]), "y": np.array([0, 2, 1, 0])}, r"found \[2\]"),
    ({"x": X, "edge_index": np.array([0, 1]), "y": Y}, r"\[2, edges\]"),
    ({"node_features": X, "edges": np.array([[0, 1, 2]]), "node_labels": Y}, r"\[edges, 2\]"),
    ({"x": X[:, 0], "edge_index": np.array([[0], [1]]), "y": Y}, r"\[nodes, features\]"),
    ({"features": X}, "npz needs"),
    ({"x": X, "edge_index": np.array([[0.0, 1.7], [1.2, 3.5]]), "y": Y}, "node indices"),  # never truncated to 0, 1, 3
    ({"x": X[:, :0], "edge_index": np.array([[0], [1]]), "y": Y}, "at least one feature"),
])
def test_arrays_that_disagree_are_clear_errors(tmp_path: Path, arrays: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_static(_npz(tmp_path / "bad.npz", **arrays))


def test_a_column_of_labels_is_one_label_per_node(tmp_path: Path) -> None:
    g = read_static(_npz(tmp_path / "g.npz", x=X, edge_index=np.array([[0], [1]]), y=Y.reshape(-1, 1)))
    assert g.labels.tolist() == Y.tolist()


def test_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "v73.mat").write_bytes(b"MATLAB 7.3 MAT-file" + b"\0" * 200)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "broken.npz").write_bytes(b"not an npz")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("reddit.pt", b"torch")
    for name, message in (("v73.mat", r"\.mat file"), ("broken.zip", "not a readable zip"),
                          ("broken.npz", r"not a readable \.npz"), ("other.zip", "no .mat inside")):
        with pytest.raises(InputError, match=message):
            read_static(tmp_path / name)


def test_malformed_mat_arrays_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.mat").write_bytes(b"")
    scipy.io.savemat(tmp_path / "cube.mat", {"Network": np.zeros((2, 2, 2)), "Attributes": X, "Label": Y})
    scipy.io.savemat(tmp_path / "text.mat", {"Network": sp.csc_matrix(np.eye(4)), "Attributes": np.array(["a", "b", "c", "d"]),
                                             "Label": Y})
    for name, message in (("empty.mat", r"cannot read this \.mat"), ("cube.mat", "adjacency matrix"),
                          ("text.mat", "numeric")):
        with pytest.raises(InputError, match=message):
            read_static(tmp_path / name)


@pytest.mark.parametrize(("file", "relation"), [("answers.npz", "edge"), ("coaction.npz", "edge"), ("rev_follow.npz", "edge"),
                                                ("My Graph.v2.npz", "my_graph"), ("2024.npz", "edge"), ("tolokers.npz", "tolokers")])
def test_a_relation_named_after_its_file_never_takes_a_name_the_build_derives(tmp_path: Path, file: str, relation: str) -> None:
    g = read_static(_npz(tmp_path / file, x=X, edge_index=np.array([[0, 1], [1, 2]]), y=Y))
    assert g.relation == relation and relation_table(g).height == 4  # undirected: each pair both ways, once


def test_a_derived_relation_name_given_outright_is_refused(tmp_path: Path) -> None:
    path = _npz(tmp_path / "g.npz", x=X, edge_index=np.array([[0], [1]]), y=Y)
    for name in ("answers", "shared_ip", "rev_x", "Bad-Name", ""):
        with pytest.raises(InputError, match="relation name"):
            read_static(path, relation=name)


def test_pyg_style_masks_are_the_given_splits(tmp_path: Path) -> None:
    masks = {k: np.array([[True, False, False, True]]) if k == "train_masks" else np.array([[False, True, False, False]])
             if k == "val_masks" else np.array([[False, False, True, False]]) for k in ("train_masks", "val_masks", "test_masks")}
    g = read_static(_npz(tmp_path / "g.npz", x=X, edge_index=np.array([[0], [1]]), y=Y, **masks))
    assert sorted(g.splits) == ["test", "train", "val"] and g.splits["train"].tolist() == [[True, False, False, True]]
