"""PNG plots for model cards and evaluations (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and workers
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)  # figures are not freed otherwise: retrain and evaluate draw several
    return path


def training_curves(histories: list[list[dict]], path: Path, *, best_epochs: list[int] | None = None) -> Path:
    """Loss and validation AUROC per epoch, one line style per ensemble member."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    several = len(histories) > 1
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, history in enumerate(histories):
        epochs = [h["epoch"] for h in history]
        tag = f" (member {index + 1})" if several else ""
        style = ["-", "--", "-.", ":"][index % 4] if several else "-"
        lines = [(ax1, "loss", "train loss"), (ax2, "val_auroc", "val per image")]
        lines.append((ax2, "val_group_auroc", "val per group"))
        if not several and "train_auroc" in history[0]:
            lines.append((ax2, "train_auroc", "train AUROC"))
        for colour, (ax, key, label) in zip(colours, lines, strict=False):
            ax.plot(epochs, [h[key] for h in history], color=colour, linestyle=style, label=label + tag)
    for index, best in enumerate(best_epochs or []):
        ax2.axvline(best, color="grey", linestyle=":", alpha=0.7, label="selected epoch" if index == 0 else None)
    ax1.set_xlabel("epoch")
    ax1.set_title("train loss (weighted)")
    ax1.legend(fontsize="small")
    ax2.set_ylim(0.4, 1.0)
    ax2.set_xlabel("epoch")
    ax2.set_title("AUROC")
    ax2.legend(loc="lower right", fontsize="x-small")
    return _save(fig, path)


def roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]], path: Path) -> Path:
    """``curves`` maps a name (e.g. "val", "test") to (labels, probabilities, auroc)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (y, p, auc) in curves.items():
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(loc="lower right")
    return _save(fig, path)


def confusion_plot(at_threshold: dict[str, dict], path: Path, *, title: str) -> Path:
    """One matrix per stored threshold (balanced, high sensitivity)."""
    fig, axes = plt.subplots(1, len(at_threshold), figsize=(4.5 * len(at_threshold), 4))
    axes = np.atleast_1d(axes)
    for ax, (name, m) in zip(axes, at_threshold.items(), strict=True):
        c = m["confusion"]
        grid = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
        ax.imshow(grid, cmap="Blues")
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=14)
        ax.set_xticks([0, 1], ["pred. not fractured", "pred. fractured"])
        ax.set_yticks([0, 1], ["not fractured", "fractured"])
        ax.set_title(f"{title}: {name} (t={m['threshold']:.3f})")
    return _save(fig, path)


def reliability_plot(tables: dict[str, list[dict]], path: Path) -> Path:
    """Observed fracture rate against mean score per score bin (``calibration.reliability_table``)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for name, rows in tables.items():
        used = [r for r in rows if r["n"]]
        ax.plot([r["mean_score"] for r in used], [r["observed"] for r in used], marker="o", label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed fraction fractured")
    ax.set_title("reliability, out of fold")
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, path)
