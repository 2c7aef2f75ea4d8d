"""The picture classifier: logistic regression on one embedding type, chosen with C by cross-validation.

As in the CHR24 paper: the features are one embedding type (vit, clip, siglip or the phash
baseline's 64 bits), the model a regularised logistic regression, and both the embedding type
and C are hyper-parameters. `EmbeddingSelector` makes the embedding type a step of a scikit-learn
`Pipeline`, so `GridSearchCV` selects it like any other parameter (and `cross_validate` around it
gives the nested cross-validation of `classifier_eval`).

A trained model is stored without pickle: `model.npz` (coefficients, intercepts, scaler) and
`model.json` (classes, embedding, C, training-set hash, scikit-learn version, scores).
Prediction is plain numpy, so a stored model never executes code when loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .classifier_store import (
    ClassifierError,
    TrainedClassifier,
    classifier_dir,
    load_classifier,
    load_current_classifier,
    save_classifier,
)

__all__ = [
    "ClassifierError",
    "EmbeddingSelector",
    "FeatureMatrix",
    "SearchSpace",
    "TrainedClassifier",
    "as_features",
    "build_grid_search",
    "build_pipeline",
    "classifier_dir",
    "load_classifier",
    "load_current_classifier",
    "save_classifier",
    "stack_features",
    "train_classifier",
]

Layout = tuple[tuple[str, int, int], ...]  # (embedding, first column, column after the last)


def as_features(vectors: np.ndarray) -> np.ndarray:
    """float32 rows; packed bit vectors (phash, uint8) become one 0/1 feature per bit."""
    vectors = np.asarray(vectors)
    if vectors.dtype == np.uint8:
        return np.unpackbits(vectors, axis=1).astype(np.float32)
    return vectors.astype(np.float32, copy=False)


@dataclass(frozen=True)
class FeatureMatrix:
    """All candidate embeddings side by side; `layout` says which columns hold which."""

    X: np.ndarray
    layout: Layout

    @property
    def embeddings(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.layout)


def stack_features(vectors: dict[str, np.ndarray], embeddings: Sequence[str]) -> FeatureMatrix:
    """Concatenate the named embeddings' features (rows must line up across embeddings)."""
    missing = [name for name in embeddings if name not in vectors]
    if missing:
        raise ClassifierError(f"no vectors for embedding(s) {', '.join(missing)}")
    blocks, layout, start = [], [], 0
    for name in embeddings:
        block = as_features(vectors[name])
        blocks.append(block)
        layout.append((name, start, start + block.shape[1]))
        start += block.shape[1]
    rows = {b.shape[0] for b in blocks}
    if len(rows) != 1:
        raise ClassifierError(f"embeddings have different numbers of rows: {sorted(rows)}")
    return FeatureMatrix(np.hstack(blocks), tuple(layout))


class EmbeddingSelector(TransformerMixin, BaseEstimator):
    """Keep the columns of one embedding type: the pipeline step whose choice is in the grid."""

    def __init__(self, embedding: str = "", layout: Layout = ()):
        self.embedding = embedding
        self.layout = layout

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "EmbeddingSelector":
        self._columns()
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        start, stop = self._columns()
        return X[:, start:stop]

    def _columns(self) -> tuple[int, int]:
        for name, start, stop in self.layout:
            if name == self.embedding:
                return start, stop
        raise ValueError(f"embedding {self.embedding!r} is not among {[n for n, _, _ in self.layout]}")


@dataclass(frozen=True)
class SearchSpace:
    """What the (inner) cross-validation chooses among, and how it scores and folds."""

    embeddings: tuple[str, ...]
    Cs: tuple[float, ...]
    inner_folds: int = 10
    scoring: str = "f1_micro"
    standardize: bool = True
    max_iter: int = 1000
    tol: float = 1e-3
    seed: int = 0

    @classmethod
    def from_settings(cls, settings, embeddings: Sequence[str] | None = None) -> "SearchSpace":
        """From `[classifier]` settings; `embeddings` narrows the candidates (e.g. to those cached)."""
        return cls(
            embeddings=tuple(embeddings or settings.embeddings),
            Cs=tuple(float(c) for c in np.logspace(
                np.log10(settings.c_min), np.log10(settings.c_max), settings.c_count)),
            inner_folds=settings.inner_folds,
            scoring=settings.scoring,
            standardize=settings.standardize,
            max_iter=settings.max_iter,
            tol=settings.tol,
            seed=settings.random_seed,
        )


def build_pipeline(layout: Layout, space: SearchSpace) -> Pipeline:
    """select embedding -> (standardise) -> logistic regression (lbfgs, multinomial)."""
    steps: list[tuple[str, object]] = [("select", EmbeddingSelector(space.embeddings[0], layout))]
    if space.standardize:
        steps.append(("scale", StandardScaler()))
    # lbfgs: the multinomial solver that is fast at a few hundred rows.
    steps.append(("clf", LogisticRegression(max_iter=space.max_iter, tol=space.tol, solver="lbfgs")))
    return Pipeline(steps)


def build_grid_search(layout: Layout, space: SearchSpace, n_jobs: int = 1) -> GridSearchCV:
    """GridSearchCV over embedding type x C with stratified, seeded inner folds."""
    grid = {"select__embedding": list(space.embeddings), "clf__C": list(space.Cs)}
    inner = StratifiedKFold(space.inner_folds, shuffle=True, random_state=space.seed + 1)
    return GridSearchCV(
        build_pipeline(layout, space), grid, cv=inner, scoring=space.scoring, n_jobs=n_jobs,
        refit=True, error_score="raise",
    )


def check_labels(y: Sequence[str], folds: int) -> np.ndarray:
    """The labels as an array, or a ClassifierError saying why they cannot be cross-validated."""
    y = np.asarray(y)
    counts = {str(c): int(n) for c, n in zip(*np.unique(y, return_counts=True))}
    if len(counts) < 2:
        raise ClassifierError(f"need labelled examples of at least two classes, got {counts or 'none'}")
    if min(counts.values()) < 2:
        rare = [c for c, n in counts.items() if n < 2]
        raise ClassifierError(f"classes {rare} have a single example; label at least {folds} of each "
                              "(or remove those labels) before cross-validating")
    return y


@dataclass(frozen=True)
class TrainingData:
    """Everything `train_classifier` records about what the model learned from."""

    training_set_hash: str
    all_classes: tuple[str, ...]
    embedder_versions: dict[str, str] = field(default_factory=dict)
    scores: dict = field(default_factory=dict)


def train_classifier(
    features: FeatureMatrix, y: Sequence[str], space: SearchSpace, data: TrainingData, *, n_jobs: int = 1
) -> TrainedClassifier:
    """Select embedding and C on all labels (inner folds), refit on all, keep the numbers."""
    y = check_labels(y, space.inner_folds)
    with threadpool_limits(1):  # small fits: BLAS threads only spin (see classifier_eval)
        search = build_grid_search(features.layout, space, n_jobs=n_jobs).fit(features.X, y)
    best = search.best_estimator_
    embedding, C = search.best_params_["select__embedding"], float(search.best_params_["clf__C"])
    clf: LogisticRegression = best.named_steps["clf"]
    scaler = best.named_steps.get("scale")
    width = clf.coef_.shape[1]
    scores = {f"inner_cv_{space.scoring}": float(search.best_score_), **data.scores}
    fingerprint = hashlib.sha256(repr((
        data.training_set_hash, embedding, C, space.standardize,
        data.embedder_versions.get(embedding, ""), data.all_classes,
    )).encode()).hexdigest()[:10]
    return TrainedClassifier(
        version=f"lr-{embedding}-{fingerprint}",
        embedding=embedding,
        embedder_version=data.embedder_versions.get(embedding, ""),
        C=C,
        classes=tuple(str(c) for c in clf.classes_),
        all_classes=data.all_classes,
        coef=clf.coef_.astype(np.float64),
        intercept=clf.intercept_.astype(np.float64),
        mean=scaler.mean_ if scaler is not None else np.zeros(width),
        scale=scaler.scale_ if scaler is not None else np.ones(width),
        training_set_hash=data.training_set_hash,
        n_labels=int(len(y)),
        class_counts={str(c): int((y == c).sum()) for c in clf.classes_},
        scores=scores,
    )
