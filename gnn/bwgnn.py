"""BWGNN, the Beta Wavelet GNN (Tang, Li, Sun and Jia, *Rethinking Graph Neural Networks for
Anomaly Detection*, ICML 2022): a published fraud-detection GNN, run as a baseline beside ours.

Anomalies shift a graph signal's energy to high frequencies, so BWGNN filters the node
representations with a bank of band-pass Beta-wavelet filters, polynomials in the normalised
Laplacian ``L = I - D^-1/2 A D^-1/2``:

    W_p = (L/2)^p (I - L/2)^(C-p) / B(p+1, C+1-p),  p = 0..C

(``C`` the order). An MLP encodes the features, every filter is applied to the encoding, the
results are concatenated and a second MLP classifies. This is the homogeneous form, over the
union of the snapshot's relations in both directions, as GADBench runs it; class imbalance is
handled by weighting the positive class.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import beta as beta_fn
from sklearn.metrics import average_precision_score
from torch import Tensor, nn

from gnn.data import GraphTensors
from gnn.device import pick_device
from gnn.model import csr_tensor
from gnn.neighbors import adjacency, degree
from gnn.train import TrainConfig, torch_threads


def beta_wavelet_coefficients(order: int) -> list[np.ndarray]:
    """Polynomial coefficients (ascending powers of ``L``) of the ``order + 1`` Beta-wavelet filters.

    Args:
        order: The filters' polynomial degree ``C``.

    Returns:
        ``order + 1`` arrays of ``order + 1`` coefficients each, filter ``p`` first.
    """
    P = np.polynomial.polynomial
    out = []
    for p in range(order + 1):
        poly = P.polymul(P.polypow([0.0, 0.5], p), P.polypow([1.0, -0.5], order - p))
        out.append(np.pad(poly, (0, order + 1 - len(poly))) / beta_fn(p + 1, order + 1 - p))
    return out


def normalized_adjacency(graph: GraphTensors, device: torch.device | None = None) -> Tensor:
    """``D^-1/2 A D^-1/2`` of the union of every relation, symmetric, without self-loops.

    Shapes:
        - **output:** sparse CSR ``[num_nodes, num_nodes]``
    """
    a = adjacency(graph)  # the union, both directions, each pair once
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree(a), 1.0))
    a = sp.csr_matrix(sp.diags(inv_sqrt) @ a @ sp.diags(inv_sqrt), dtype=np.float32)
    a.sort_indices()
    return csr_tensor(a, device or torch.device("cpu"))


class BWGNN(nn.Module):
    """Beta Wavelet GNN: MLP encoder, a bank of Beta-wavelet filters, MLP classifier.

    Args:
        in_channels: Features per node.
        hidden: Hidden size.
        order: Degree ``C`` of the wavelet polynomials (``C + 1`` filters).

    Shapes:
        - **input:** ``x`` ``[num_nodes, in_channels]``, ``adj`` normalised adjacency
          ``[num_nodes, num_nodes]`` (:func:`normalized_adjacency`)
        - **output:** logits ``[num_nodes]``
    """

    def __init__(self, in_channels: int, hidden: int = 64, order: int = 2) -> None:
        super().__init__()
        self.register_buffer("theta", torch.tensor(np.stack(beta_wavelet_coefficients(order)), dtype=torch.float32))
        self.encoder = nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(hidden * (order + 1), hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def filter_bank(self, h: Tensor, adj: Tensor) -> Tensor:
        """Every Beta-wavelet filter applied to ``h``: ``W_p h = sum_k theta_pk L^k h``.

        Shapes:
            - **input:** ``h`` ``[num_nodes, d]``, ``adj`` ``[num_nodes, num_nodes]``
            - **output:** ``[order + 1, num_nodes, d]``
        """
        powers = [h]  # L^k h, with L h = h - A_norm h
        for _ in range(self.theta.shape[1] - 1):
            powers.append(powers[-1] - adj @ powers[-1])
        return torch.einsum("pk,knd->pnd", self.theta, torch.stack(powers))

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        filtered = self.filter_bank(self.encoder(x), adj)
        return self.head(torch.cat(list(filtered), dim=-1)).squeeze(-1)


def fit_bwgnn(graph: GraphTensors, tr_nodes: np.ndarray, y_tr: np.ndarray, va_nodes: np.ndarray, y_va: np.ndarray,
              cfg: TrainConfig, order: int = 2) -> BWGNN:
    """Train :class:`BWGNN` full-batch with the GNN's settings (hidden size, learning rate, epochs,
    patience): weighted cross-entropy on ``tr_nodes``, the best epoch by validation AUPRC (by the
    training loss when the validation labels hold one class).

    Returns:
        The best model, in eval mode on the training device.
    """
    with torch_threads(graph.num_nodes):
        torch.manual_seed(cfg.seed)
        device = pick_device(cfg.device)
        x, adj = graph.x.to(device), normalized_adjacency(graph, device)
        model = BWGNN(x.shape[1], cfg.hidden, order).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        tr_t = torch.from_numpy(np.array(tr_nodes, dtype=np.int64)).to(device)
        va_t = torch.from_numpy(np.array(va_nodes, dtype=np.int64)).to(device)
        y_t = torch.from_numpy(np.array(y_tr, dtype=np.float32)).to(device)
        n_pos = max(int(np.sum(y_tr == 1)), 1)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(min((len(y_tr) - n_pos) / n_pos, 50.0), device=device))
        best, best_state, since = -np.inf, None, 0
        for epoch in range(cfg.epochs):
            model.train()
            opt.zero_grad()
            loss = loss_fn(model(x, adj)[tr_t], y_t)
            loss.backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                val = (average_precision_score(y_va, model(x, adj)[va_t].cpu().numpy()) if len(np.unique(y_va)) > 1
                       else -float(loss.detach()))  # one class in validation: the training loss decides
            if val > best:
                best, best_state, since = val, {k: v.detach().clone() for k, v in model.state_dict().items()}, 0
            else:
                since += 1
                if epoch >= cfg.min_epochs and since >= cfg.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        return model.eval()


def bwgnn_logits(model: BWGNN, graph: GraphTensors) -> np.ndarray:
    """Logits of every node of ``graph`` (any graph with the model's features: inductive)."""
    device = next(model.parameters()).device
    with torch_threads(graph.num_nodes), torch.no_grad():
        return model(graph.x.to(device), normalized_adjacency(graph, device)).cpu().numpy()
