"""HTML + PNG evaluation report (matplotlib, Agg backend): ROC, PR, score histogram, calibration."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from gnn.evaluate import CALIBRATION_BINS, risk_bins


def _plots(first: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(first["y"])
    files = []
    fig, ax = plt.subplots(figsize=(5, 4))
    for model, s in first["scores"].items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=model, lw=1.2)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test, seed 0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    files.append("roc.png")
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_title("ROC, log FPR")
    fig.savefig(out / "roc_log.png", dpi=110)
    files.append("roc_log.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    for model, s in first["scores"].items():
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, label=model, lw=1.2)
    ax.axhline(y.mean(), color="k", ls=":", lw=0.8)
    ax.set(xlabel="recall", ylabel="precision", title="Precision–recall (test, seed 0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "pr.png", dpi=110)
    files.append("pr.png")
    plt.close(fig)
    ours = "hybrid" if "hybrid" in first["scores"] else next(iter(first["scores"]))
    s = np.asarray(first["scores"][ours])
    fig, ax = plt.subplots(figsize=(5, 4))
    bins = np.linspace(s.min(), s.max(), 50)
    ax.hist(s[y == 0], bins=bins, alpha=0.6, density=True, label="benign")
    ax.hist(s[y == 1], bins=bins, alpha=0.6, density=True, label="abusive")
    ax.set(xlabel=f"{ours} raw score (log-odds)", ylabel="density", title="Score by class (test)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "hist.png", dpi=110)
    files.append("hist.png")
    plt.close(fig)
    if first.get("risk") is not None:
        risk = np.asarray(first["risk"])
        idx = risk_bins(risk)  # the bins of the ECE it sits beside
        mids, freq, counts = [], [], []
        for b in range(CALIBRATION_BINS):
            sel = idx == b
            if sel.sum() >= 5:
                mids.append(risk[sel].mean())
                freq.append(y[sel].mean())
                counts.append(int(sel.sum()))
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.plot(mids, freq, "o-")
        for m, f, c in zip(mids, freq, counts):
            ax.annotate(str(c), (m, f), fontsize=6)
        ax.set(xlabel="calibrated risk (fitted on validation)", ylabel="observed abusive share (test)", title="Calibration")
        fig.tight_layout()
        fig.savefig(out / "calibration.png", dpi=110)
        files.append("calibration.png")
        plt.close(fig)
    return files


def html_report(result: dict[str, Any], first: dict[str, Any] | None, out: Path) -> Path:
    """Write ``out/index.html`` (metrics table, mean ± std over seeds) and its PNG plots."""
    out.mkdir(parents=True, exist_ok=True)
    files = _plots(first, out) if first else []
    rows = []
    metrics = ("auroc", "auprc", "recall_at_1pct_fpr", "precision_at_100")
    for model, m in result["models"].items():
        cells = "".join(f"<td>{m[k]['mean']:.4f} ± {m[k]['std']:.4f}</td>" for k in metrics if k in m)
        rows.append(f"<tr><th>{html.escape(model)}</th>{cells}</tr>")
    goal = result.get("goal") or {}
    head = "".join(f"<th>{k}</th>" for k in metrics)
    imgs = "".join(f'<img src="{f}" alt="{f}">' for f in files)
    text = f"""<!doctype html><html><head><meta charset="utf-8"><title>Ringwatch evaluation: {html.escape(str(result['dataset']))}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}img{{width:420px;margin:6px}}</style>
</head><body><h1>{html.escape(str(result['dataset']))}</h1>
<p>Protocol: {html.escape(str(result['protocol']))}; {result['seeds']} seed(s)/split(s); {result.get('labelled', '?')} labelled
({result.get('positives', '?')} abusive). Test metrics, mean ± std over seeds. Goal: AUROC ≥ {goal.get('auroc')}, AUPRC ≥ {goal.get('auprc')}.</p>
<table><tr><th>model</th>{head}</tr>{''.join(rows)}</table>
<p>{html.escape(str(result.get('note', '')))}</p>{imgs}</body></html>"""
    path = out / "index.html"
    path.write_text(text)
    return path
