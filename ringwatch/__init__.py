"""Ringwatch: graph-based detection of coordinated abusive accounts.

The distribution holds four packages: :mod:`graphs` (event logs to graph snapshots, on Ray),
:mod:`gnn` (PyTorch Geometric training and scoring), :mod:`services` (gRPC risk service and
Neo4j) and this one, which holds what they share: settings, errors, the versioned storage
layout, the command line and the generated gRPC code (:mod:`ringwatch.v1`).
"""

__version__ = "0.1.0"
