"""Nested cross-validation of the classifier, as the CHR24 paper ran it, and its report.

`cross_validate` (stratified, seeded outer folds) around `GridSearchCV` (inner folds choosing the
embedding type and C): each outer fold's test part is never seen by the selection that
predicts it. The report gives micro/macro-F1 per outer fold (mean ± sd), per-class precision
and recall and the confusion matrix over the pooled outer-fold predictions, and which
embedding and C each outer fold chose.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_validate
from threadpoolctl import threadpool_limits

from .classifier import FeatureMatrix, SearchSpace, build_grid_search, check_labels


@dataclass(frozen=True)
class FoldResult:
    fold: int
    embedding: str
    C: float
    f1_micro: float
    f1_macro: float
    n_test: int


@dataclass(frozen=True)
class ClassScore:
    name: str
    support: int
    precision: float | None  # None: the class has no examples (and is never predicted)
    recall: float | None
    f1: float | None


@dataclass
class NestedCVReport:
    """What `vignett classify evaluate` prints and writes as JSON."""

    n_samples: int
    outer_folds: int
    inner_folds: int
    scoring: str
    embeddings: tuple[str, ...]
    Cs: tuple[float, ...]
    folds: list[FoldResult]
    per_class: list[ClassScore]
    confusion_labels: list[str]
    confusion: list[list[int]]
    seconds: float
    notes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def summary(self, metric: str) -> tuple[float, float]:
        values = np.array([getattr(f, metric) for f in self.folds])
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0

    @property
    def chosen_embeddings(self) -> dict[str, int]:
        return dict(Counter(f.embedding for f in self.folds))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for metric in ("f1_micro", "f1_macro"):
            mean, sd = self.summary(metric)
            data[metric] = {"mean": mean, "sd": sd}
        data["chosen_embeddings"] = self.chosen_embeddings
        return data


def nested_cross_validate(
    features: FeatureMatrix,
    y: Sequence[str],
    space: SearchSpace,
    *,
    outer_folds: int = 20,
    all_classes: Sequence[str] = (),
    n_jobs: int = -1,
    verbose: int = 0,
) -> NestedCVReport:
    """Outer stratified folds score a GridSearchCV that selects embedding type and C."""
    started = time.monotonic()
    y = check_labels(y, outer_folds)
    search = build_grid_search(features.layout, space, n_jobs=1)
    outer = StratifiedKFold(outer_folds, shuffle=True, random_state=space.seed)
    # One BLAS thread per fit: at a few hundred rows threads only spin; folds run in parallel instead.
    with threadpool_limits(1):
        result = cross_validate(
            search, features.X, y, cv=outer, scoring=("f1_micro", "f1_macro"), n_jobs=n_jobs,
            return_estimator=True, return_indices=True, verbose=verbose,
        )
    predicted = np.empty(len(y), dtype=object)
    folds = []
    for i, (estimator, test) in enumerate(zip(result["estimator"], result["indices"]["test"])):
        predicted[test] = estimator.predict(features.X[test])
        folds.append(FoldResult(
            fold=i + 1,
            embedding=estimator.best_params_["select__embedding"],
            C=float(estimator.best_params_["clf__C"]),
            f1_micro=float(result["test_f1_micro"][i]),
            f1_macro=float(result["test_f1_macro"][i]),
            n_test=int(len(test)),
        ))
    classes = list(all_classes) or sorted(set(y))
    present = [c for c in classes if c in set(y) or c in set(predicted)]
    return NestedCVReport(
        n_samples=int(len(y)), outer_folds=outer_folds, inner_folds=space.inner_folds,
        scoring=space.scoring, embeddings=space.embeddings, Cs=space.Cs, folds=folds,
        per_class=_per_class(y, predicted.astype(str), classes),
        confusion_labels=present,
        confusion=confusion_matrix(y, predicted.astype(str), labels=present).tolist(),
        seconds=round(time.monotonic() - started, 2),
        notes=[f"class {c!r} has no labelled examples: not learned, never predicted"
               for c in classes if c not in set(y)],
    )


def _per_class(y: np.ndarray, predicted: np.ndarray, classes: list[str]) -> list[ClassScore]:
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=classes, zero_division=0
    )
    return [
        ClassScore(c, int(s), float(p), float(r), float(f)) if s else ClassScore(c, 0, None, None, None)
        for c, p, r, f, s in zip(classes, precision, recall, f1, support)
    ]


def format_report(report: NestedCVReport) -> str:
    """The plain-text report `classify evaluate` prints."""
    micro, macro = report.summary("f1_micro"), report.summary("f1_macro")
    lines = []
    if report.context.get("weights") == "random":
        lines.append("*** vit/clip/siglip vectors from RANDOM-WEIGHT networks (phash needs none): "
                     "these are NOT pretrained scores ***")
    lines += [
        f"nested cross-validation: {report.n_samples} labelled images, {report.outer_folds} outer x "
        f"{report.inner_folds} inner stratified folds, inner scoring {report.scoring}",
        f"grid: embedding in {list(report.embeddings)} x C in {len(report.Cs)} log-spaced values "
        f"[{report.Cs[0]:g}, {report.Cs[-1]:g}]",
        f"micro-F1 {micro[0]:.3f} ± {micro[1]:.3f}   macro-F1 {macro[0]:.3f} ± {macro[1]:.3f}  "
        "(mean ± sd over outer folds)",
        "",
        "fold  embedding  C          micro-F1  macro-F1  n_test",
    ]
    lines += [
        f"{f.fold:>4}  {f.embedding:<9}  {f.C:<9.3g}  {f.f1_micro:>8.3f}  {f.f1_macro:>8.3f}  {f.n_test:>6}"
        for f in report.folds
    ]
    lines += ["", "chosen embedding per outer fold: " + ", ".join(
        f"{name} x{count}" for name, count in sorted(report.chosen_embeddings.items()))]
    lines += ["", f"{'class':<28} {'support':>7} {'precision':>9} {'recall':>7} {'F1':>6}"]
    for c in report.per_class:
        if c.support:
            lines.append(f"{c.name:<28} {c.support:>7} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}")
        else:
            lines.append(f"{c.name:<28} {0:>7} {'(no examples)':>24}")
    width = max(len(lbl) for lbl in report.confusion_labels)
    lines += ["", "confusion matrix (rows: label, columns: predicted; pooled outer-fold predictions)"]
    lines.append(" " * (width + 2) + " ".join(f"{i:>5}" for i in range(1, len(report.confusion_labels) + 1)))
    for i, (label, row) in enumerate(zip(report.confusion_labels, report.confusion), start=1):
        lines.append(f"{label:<{width}} {i:>1} " + " ".join(f"{v:>5}" for v in row))
    lines += [f"note: {n}" for n in report.notes]
    lines.append(f"time: {report.seconds:.1f} s")
    return "\n".join(lines)


def write_report(report: NestedCVReport, json_path: Path, png_path: Path | None = None) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report.to_dict(), indent=2))
    if png_path is not None:
        plot_confusion(report, png_path)


def plot_confusion(report: NestedCVReport, path: Path, title: str = "") -> None:
    """The confusion matrix as a PNG (matplotlib's Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(report.confusion)
    labels = report.confusion_labels
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 3, 1.0 * len(labels) + 2.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    high = matrix.max() / 2 if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > high else "black")
    micro = report.summary("f1_micro")
    weights = " (RANDOM-weight embeddings: not pretrained scores)" if report.context.get("weights") == "random" else ""
    default = f"outer-fold confusion matrix, micro-F1 {micro[0]:.3f} ± {micro[1]:.3f}{weights}"
    ax.set_title(title or default, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
