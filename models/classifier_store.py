"""A trained classifier as numbers and metadata: predict with numpy, store as .npz + JSON (no pickle).

Layout under the classifier folder (`classifier.model_dir`, default `<cache_dir>/classifier`):

    models/<version>/model.npz     coef, intercept, scaler mean and scale
    models/<version>/model.json    classes, embedding, C, training-set hash, versions, scores
    current.json                   {"version": ...}: the model ingest and apply use
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1


class ClassifierError(RuntimeError):
    """No usable classifier, or inputs it cannot classify; the message says what to do."""


class ClassifierVersionWarning(UserWarning):
    """The stored model was trained with another scikit-learn version."""


def classifier_dir(settings) -> Path:
    """Where models and the training set live (`classifier.model_dir`, else under the cache dir)."""
    configured = settings.classifier.model_dir
    return Path(configured).expanduser() if configured else settings.paths.resolved_cache_dir() / "classifier"


@dataclass
class TrainedClassifier:
    """A fitted logistic regression on one embedding type; what ingest and apply call."""

    version: str
    embedding: str
    embedder_version: str
    C: float
    classes: tuple[str, ...]  # the classes it learned (those with labelled examples)
    all_classes: tuple[str, ...]  # the configured class list; unseen classes get probability 0
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    training_set_hash: str
    n_labels: int
    class_counts: dict[str, int]
    scores: dict[str, Any] = field(default_factory=dict)
    sklearn_version: str = ""
    trained_at: str = ""

    def __post_init__(self) -> None:
        if not self.sklearn_version:
            import sklearn

            self.sklearn_version = sklearn.__version__
        self.trained_at = self.trained_at or datetime.now(timezone.utc).isoformat(timespec="seconds")

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """[n, len(classes)] probabilities, as LogisticRegression.predict_proba computes them."""
        from .classifier import as_features

        X = (as_features(vectors).astype(np.float64) - self.mean) / self.scale
        scores = X @ self.coef.T + self.intercept
        if len(self.classes) == 2:  # binary: one column of logits for classes[1]
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict_documents(self, vectors: dict[str, np.ndarray]) -> list[tuple[str, dict[str, float]]]:
        """(class, {class: probability} over every configured class) per row of `vectors`."""
        if self.embedding not in vectors:
            raise ClassifierError(
                f"classifier {self.version} needs {self.embedding!r} vectors, got only "
                f"{sorted(vectors)}; embed with {self.embedding!r} too, or run `vignett classify apply` later"
            )
        proba = self.predict_proba(vectors[self.embedding])
        results = []
        for row in proba:
            probs = {c: 0.0 for c in self.all_classes}
            probs.update({c: round(float(p), 6) for c, p in zip(self.classes, row)})
            results.append((self.classes[int(np.argmax(row))], probs))
        return results

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "embedding": self.embedding,
            "embedder_version": self.embedder_version,
            "C": self.C,
            "classes": list(self.classes),
            "all_classes": list(self.all_classes),
            "classes_without_examples": [c for c in self.all_classes if c not in self.classes],
            "training_set_hash": self.training_set_hash,
            "n_labels": self.n_labels,
            "class_counts": self.class_counts,
            "scores": self.scores,
            "sklearn_version": self.sklearn_version,
            "trained_at": self.trained_at,
        }


def save_classifier(model: TrainedClassifier, root: Path, *, make_current: bool = True) -> Path:
    """Write the model under `root/models/<version>/`; optionally point `current.json` at it."""
    folder = Path(root) / "models" / model.version
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "model.npz", coef=model.coef, intercept=model.intercept, mean=model.mean, scale=model.scale)
    (folder / "model.json").write_text(json.dumps(model.metadata(), indent=2))
    if make_current:
        tmp = Path(root) / "current.json.tmp"
        tmp.write_text(json.dumps({"version": model.version}))
        tmp.replace(Path(root) / "current.json")
    return folder


def load_classifier(folder: Path) -> TrainedClassifier:
    """A stored model; warns (ClassifierVersionWarning) when scikit-learn's version differs."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text())
        with np.load(folder / "model.npz", allow_pickle=False) as arrays:
            numbers = {k: arrays[k] for k in ("coef", "intercept", "mean", "scale")}
    except (OSError, ValueError, KeyError) as exc:
        raise ClassifierError(f"cannot read the classifier in {folder}: {exc}") from None
    if meta.get("format") != FORMAT:
        raise ClassifierError(f"{folder} holds classifier format {meta.get('format')}, this vignett reads {FORMAT}")
    _check_sklearn_version(meta.get("sklearn_version", ""), folder)
    return TrainedClassifier(
        version=meta["version"], embedding=meta["embedding"], embedder_version=meta["embedder_version"],
        C=float(meta["C"]), classes=tuple(meta["classes"]), all_classes=tuple(meta["all_classes"]),
        training_set_hash=meta["training_set_hash"], n_labels=int(meta["n_labels"]),
        class_counts=meta["class_counts"], scores=meta.get("scores", {}),
        sklearn_version=meta["sklearn_version"], trained_at=meta["trained_at"], **numbers,
    )


def _check_sklearn_version(stored: str, folder: Path) -> None:
    import sklearn

    if stored.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        warnings.warn(
            f"classifier in {folder} was trained with scikit-learn {stored or '?'}, this is "
            f"{sklearn.__version__}; its stored coefficients still load (no pickle), but retrain "
            "with `vignett classify train` to be sure the fit matches this version",
            ClassifierVersionWarning,
            stacklevel=3,
        )


def current_model_folder(root: Path) -> Path | None:
    pointer = Path(root) / "current.json"
    if not pointer.exists():
        return None
    version = json.loads(pointer.read_text())["version"]
    return Path(root) / "models" / version


def load_current_classifier(settings) -> TrainedClassifier | None:
    """The model `vignett classify train` made current, or None when none was trained yet."""
    folder = current_model_folder(classifier_dir(settings))
    return load_classifier(folder) if folder is not None else None
