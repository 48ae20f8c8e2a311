"""Import a static labelled graph as a published snapshot plus a label table.

This is the documented path for graphs that arrive without an event log (the public
benchmark sets in ``../shared/datasets``, or any node-feature + edge-list + label export):

    from graphs.import_static import read_static, publish_static
    g = read_static(Path("../shared/datasets/tolokers/tolokers.npz"))
    manifest, labels = publish_static(home, g)

The snapshot uses the contract layout (``accounts.parquet`` with ``account_id``, ``first_ts``,
``last_ts`` and one float column per feature; ``relations/<name>.parquet`` with ``src, dst,
count, first_ts, last_ts``), so the model code reads it exactly like a built snapshot; nothing
downstream knows where it came from. Undirected graphs are stored in both directions.

Readers (by file type):

* ``.npz`` with ``node_features``/``node_labels``/``edges`` (heterophilous-graphs, e.g.
  Tolokers, with optional ``train_masks``/``val_masks``/``test_masks``) or ``x``/``edge_index``/``y``
  (PyG style, e.g. PyGOD Reddit).
* ``.mat`` (or a ``.zip`` holding one) with ``Network``/``Attributes``/``Label`` (CARE-GNN /
  TAM style, e.g. YelpChi and Amazon).

Node kinds (e.g. Reddit users vs subreddits) become one-hot feature columns, and only nodes of
the labelled kind enter the label table.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ringwatch.errors import InputError
from ringwatch.types import DERIVED_RELATIONS, SNAPSHOT_ACCOUNTS, SNAPSHOT_RELATIONS_DIR
from ringwatch.versions import Home

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class StaticGraph:
    """A labelled static graph in memory.

    Attributes:
        features: ``[n, f]`` node features.
        edges: ``[m, 2]`` node index pairs.
        labels: ``[n]`` 1 abusive, 0 benign, -1 unknown / not an account.
        relation: Relation name for the edges.
        directed: Whether ``edges`` are directed (undirected ones are stored both ways).
        kinds: Optional ``[n]`` node kind names (one-hot feature columns when several).
        splits: Optional given splits: ``train``/``val``/``test`` → ``[k, n]`` boolean masks.
        source: Where it was read from.
    """

    features: np.ndarray
    edges: np.ndarray
    labels: np.ndarray
    relation: str = "edge"
    directed: bool = False
    kinds: np.ndarray | None = None
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    @property
    def num_nodes(self) -> int:
        return len(self.labels)


def _from_mat(raw: bytes | Path, relation: str) -> StaticGraph:
    import scipy.io
    import scipy.sparse as sp

    try:
        mat = scipy.io.loadmat(io.BytesIO(raw) if isinstance(raw, bytes) else raw)
    except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
        raise InputError(f"cannot read this .mat file ({exc}); save it in MATLAB's v7 format (`save -v7`)") from exc
    except (ValueError, TypeError, OSError, scipy.io.matlab.MatReadError) as exc:
        raise InputError(f"cannot read this .mat file: {exc}") from exc
    missing = [k for k in ("Network", "Attributes", "Label") if k not in mat]
    if missing:
        raise InputError(f".mat file lacks {missing}; expected Network, Attributes, Label")
    try:
        net = sp.coo_matrix(mat["Network"])
    except (ValueError, TypeError) as exc:
        raise InputError(f".mat Network must be a [nodes, nodes] adjacency matrix: {exc}") from exc
    attrs = mat["Attributes"]
    try:
        x = np.asarray(attrs.todense() if sp.issparse(attrs) else attrs, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise InputError(f".mat Attributes must be a numeric [nodes, features] matrix: {exc}") from exc
    y = np.asarray(mat["Label"]).reshape(-1)
    return StaticGraph(x, undirected_pairs(np.stack([net.row, net.col], axis=1)), y, relation)


def undirected_pairs(pairs: np.ndarray) -> np.ndarray:
    """Each undirected pair once, ``[m', 2]`` with ``src < dst``, self loops dropped, whichever
    direction (or both) the file stored.

    Shapes:
        pairs: ``[m, 2]`` node index pairs.
    """
    e = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    return np.unique(e[e[:, 0] != e[:, 1]], axis=0)


def _checked(g: StaticGraph, path: Path) -> StaticGraph:
    """``g`` with labels flattened to ``[n]`` ints, or a clear error where the arrays disagree.

    Raises:
        InputError: Features not ``[n, f ≥ 1]`` numbers, labels not one per node or outside
            {-1, 0, 1}, or edges not ``[m, 2]`` node indices in ``0..n-1``.
    """
    x, y, e = np.asarray(g.features), np.asarray(g.labels), np.asarray(g.edges)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or x.shape[1] == 0:
        raise InputError(f"{path}: node features must be a numeric [nodes, features] array with at least one feature; "
                         f"got {x.dtype}{list(x.shape)}")
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if y.ndim != 1 or len(y) != len(x):
        raise InputError(f"{path}: need one label per node ({len(x)} nodes); got labels of shape {list(y.shape)}")
    if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (-1, 0, 1)).all():
        bad = sorted(set(np.unique(y).tolist()) - {-1, 0, 1})[:5] if np.issubdtype(y.dtype, np.number) else [str(y.dtype)]
        raise InputError(f"{path}: labels must be 1 (abusive), 0 (benign) or -1 (unknown); found {bad}")
    if e.size and (e.ndim != 2 or e.shape[1] != 2 or not np.issubdtype(e.dtype, np.integer)):
        raise InputError(f"{path}: edges must be [edges, 2] node indices; got {e.dtype}{list(e.shape)}")
    if e.size and (e.min() < 0 or e.max() >= len(x)):
        raise InputError(f"{path}: edges name nodes outside 0..{len(x) - 1} (from {int(e.min())} to {int(e.max())})")
    g.features, g.labels, g.edges = x.astype(np.float32, copy=False), y.astype(np.int64), e.reshape(-1, 2).astype(np.int64)
    return g


_MASKS = ("train_masks", "val_masks", "test_masks")


def _given_splits(path: Path, data: Any, n: int) -> dict[str, np.ndarray]:
    """The file's ``train/val/test`` masks as ``[k, n]`` booleans (one split may be given as ``[n]``).

    Raises:
        InputError: Only some of the three are there, or one is not boolean or not ``[k, n]`` with
            the same ``k`` as the others.
    """
    present = [k for k in _MASKS if k in data]
    if not present:
        return {}
    if len(present) < len(_MASKS):
        raise InputError(f"{path}: given splits need all of {', '.join(_MASKS)}; found only {', '.join(present)}")
    masks = {k: np.atleast_2d(data[k]) for k in _MASKS}
    shapes = {k: m.shape for k, m in masks.items()}
    bad = [k for k, m in masks.items() if m.dtype != np.bool_ or m.ndim != 2 or m.shape[1] != n]
    if bad or len({s[0] for s in shapes.values()}) != 1:
        raise InputError(f"{path}: split masks must be boolean [splits, {n}] arrays with the same number of splits; "
                         f"got {', '.join(f'{k} {masks[k].dtype}{list(shapes[k])}' for k in _MASKS)}")
    return {k.removesuffix("_masks"): m for k, m in masks.items()}


def _from_npz(path: Path, relation: str) -> StaticGraph:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz ({exc})") from exc
    if {"node_features", "node_labels", "edges"} <= arrays.keys():
        g = StaticGraph(arrays["node_features"], arrays["edges"], arrays["node_labels"], relation)
        g.splits = _given_splits(path, arrays, len(arrays["node_features"]))
        return g
    if {"x", "edge_index", "y"} <= arrays.keys():
        ei = np.asarray(arrays["edge_index"])
        if ei.ndim != 2 or ei.shape[0] != 2 or (ei.size and not np.issubdtype(ei.dtype, np.integer)):
            raise InputError(f"{path}: edge_index must be a [2, edges] array of node indices; got {ei.dtype}{list(ei.shape)}")
        g = StaticGraph(arrays["x"], undirected_pairs(ei.T), arrays["y"], relation)
        g.splits = _given_splits(path, arrays, len(arrays["x"]))
        return g
    raise InputError(f"{path}: npz needs node_features/node_labels/edges or x/edge_index/y; has {sorted(arrays)}")


_PLAIN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _reserved(name: str) -> bool:
    """A relation name the model code reads with its own meaning (an undirected or side relation
    the build derives, or the reverse of a directed one)."""
    return name in DERIVED_RELATIONS or name.startswith("rev_")


def _relation_name(relation: str | None, path: Path) -> str:
    """The imported edges' relation name: ``relation``, checked, else a plain name from the file's."""
    if relation is not None:
        if not _PLAIN_NAME.match(relation) or _reserved(relation):
            raise InputError(f"relation name {relation!r}: use lower-case letters, digits and _ (a letter first), and none "
                             f"of the names the build derives ({', '.join(sorted(DERIVED_RELATIONS))}, rev_*)")
        return relation
    stem = re.sub(r"[^a-z0-9_]+", "_", path.name.split(".")[0].lower()).strip("_")
    return stem if _PLAIN_NAME.match(stem) and not _reserved(stem) else "edge"


def read_static(path: Path, relation: str | None = None, user_nodes: int | None = None) -> StaticGraph:
    """Read a static labelled graph.

    Args:
        path: ``.npz``, ``.mat`` or ``.zip`` holding one ``.mat``.
        relation: Relation name (default: from the file name, or ``edge`` where that is not a
            plain name or is one the build derives, such as ``coaction`` or ``answers``).
        user_nodes: When set, nodes ``0..user_nodes-1`` are accounts and the rest items
            (e.g. subreddits); only accounts are labelled.

    Raises:
        InputError: Unknown or unreadable format, missing arrays, arrays that disagree
            (see :func:`_checked`), or a ``relation`` that is no plain name or is one the
            build derives.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} not found")
    rel = _relation_name(relation, path)
    name = path.name.lower()
    if name.endswith(".npz"):
        g = _from_npz(path, rel)
    elif name.endswith(".mat"):
        g = _from_mat(path, rel)
    elif name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                mats = [n for n in zf.namelist() if n.endswith(".mat")]
                if not mats:
                    raise InputError(f"{path}: no .mat inside (members: {zf.namelist()[:5]}); a zip must hold a .mat file")
                g = _from_mat(zf.read(mats[0]), rel)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{path}: not a readable zip ({exc})") from exc
    else:
        raise InputError(f"{path}: unsupported static graph format; use .npz, .mat or a .zip with a .mat")
    g = _checked(g, path)
    g.source = str(path)
    if user_nodes is not None:
        kinds = np.where(np.arange(g.num_nodes) < user_nodes, "account", "item")
        g.kinds = kinds
        g.labels = np.where(kinds == "account", g.labels, -1)
    return g


def account_ids(n: int) -> list[str]:
    """Zero-padded ids, so string order equals node order."""
    width = max(len(str(n - 1)), 1)
    return [f"{i:0{width}d}" for i in range(n)]


def accounts_table(g: StaticGraph) -> pl.DataFrame:
    """The snapshot's account table: ids, timestamps (constant), one column per feature."""
    n = g.num_nodes
    cols: dict[str, Any] = {"account_id": account_ids(n), "first_ts": [EPOCH] * n, "last_ts": [EPOCH] * n}
    width = len(str(g.features.shape[1] - 1))
    for j in range(g.features.shape[1]):
        cols[f"f{j:0{width}d}"] = g.features[:, j]
    if g.kinds is not None:
        for kind in sorted(set(g.kinds.tolist())):
            cols[f"is_{kind}"] = (g.kinds == kind).astype(np.float32)
    return pl.DataFrame(cols, schema_overrides={"first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")})


def relation_table(g: StaticGraph) -> pl.DataFrame:
    """``src, dst, count, first_ts, last_ts``; undirected edges in both directions."""
    e = g.edges
    if not g.directed:
        e = np.concatenate([e, e[:, ::-1]])
    e = np.unique(e[e[:, 0] != e[:, 1]], axis=0)
    ids = np.asarray(account_ids(g.num_nodes))
    return pl.DataFrame({"src": ids[e[:, 0]], "dst": ids[e[:, 1]], "count": np.ones(len(e), np.int64),
                         "first_ts": [EPOCH] * len(e), "last_ts": [EPOCH] * len(e)},
                        schema_overrides={"first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")})


def label_table(g: StaticGraph, source: str = "static_import") -> pl.DataFrame:
    """``account_id, label, source, ts`` for the labelled nodes."""
    ids = np.asarray(account_ids(g.num_nodes))
    keep = g.labels >= 0
    return pl.DataFrame({"account_id": ids[keep], "label": g.labels[keep].astype(np.int64), "source": [source] * int(keep.sum()),
                         "ts": [EPOCH] * int(keep.sum())}, schema_overrides={"ts": pl.Datetime("us", "UTC")})


def publish_static(home: Home, g: StaticGraph) -> tuple[dict[str, Any], pl.DataFrame]:
    """Publish ``g`` as the next snapshot of ``home``; return its manifest and the label table.

    The label table is also written into the snapshot as ``static_labels.parquet`` (the
    caller decides which of them train, validate and test).
    """
    labels = label_table(g)
    rel = relation_table(g)
    manifest = {"kind": "snapshot", "source": "static_import", "path": g.source,
                "counts": {"accounts": g.num_nodes, "relations": {g.relation: rel.height},
                           "labelled": labels.height, "positive": int(labels["label"].sum())}}
    with home.snapshots.publish(manifest) as staging:
        accounts_table(g).write_parquet(staging / SNAPSHOT_ACCOUNTS)
        (staging / SNAPSHOT_RELATIONS_DIR).mkdir()
        rel.write_parquet(staging / SNAPSHOT_RELATIONS_DIR / f"{g.relation}.parquet")
        labels.write_parquet(staging / "static_labels.parquet")
    return manifest, labels
