"""Clients calling a risk server while its score sets are swapped (test helper)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from services.risk_client import RiskClient


def calls_during(address: str, ids: Sequence[str], swaps: Callable[[dict[str, int]], None]) -> tuple[dict[str, int], list[BaseException]]:
    """Run ``swaps`` while two single-lookup clients and one batch client call ``address`` nonstop.

    Score set ``vK`` (K > 1) is expected to hold risk K / 10 for every account, so a batch whose
    risks disagree with its own ``score_set`` (a half-swapped answer) counts as a failure.

    Args:
        address: ``host:port`` of the server.
        ids: Account ids of the batch calls; single calls ask for ``acct_0007``.
        swaps: Publishes and loads the new versions; gets the live answer counts to wait on.

    Returns:
        Answers per score version, and every exception a client saw.
    """
    failures: list[BaseException] = []
    answers: dict[str, int] = {}
    stop = threading.Event()

    def hammer(batch: bool) -> None:
        with RiskClient(address, timeout_s=5, max_attempts=1) as c:
            while not stop.is_set():
                try:
                    if batch:
                        r = c.batch_get(list(ids))
                        version = r.score_set.score_version
                        if version != "v1" and not np.allclose(r.risks, int(version[1:]) / 10):
                            raise AssertionError(f"batch mixes score sets: {version} with risks {set(r.risks.tolist())}")
                    else:
                        version = c.get("acct_0007").score_set.score_version
                    answers[version] = answers.get(version, 0) + 1
                except BaseException as exc:  # noqa: BLE001 - every failure counts
                    failures.append(exc)

    threads = [threading.Thread(target=hammer, args=(b,)) for b in (False, False, True)]
    for t in threads:
        t.start()
    try:
        swaps(answers)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    return answers, failures
