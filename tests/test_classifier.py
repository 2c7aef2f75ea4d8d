"""The classifier: nested cross-validation picks the right embedding, safe storage, label import."""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vignett.config import load_settings
from vignett.models.classifier import (
    SearchSpace,
    TrainingData,
    build_grid_search,
    load_classifier,
    load_current_classifier,
    save_classifier,
    stack_features,
    train_classifier,
)
from vignett.models.classifier_eval import format_report, nested_cross_validate
from vignett.models.classifier_store import ClassifierError, ClassifierVersionWarning
from vignett.models.labels import (
    ClassList,
    LabelError,
    merge_training_set,
    read_labels,
    training_set_hash,
)
from tests.support import SHARED_DATA, isolated_env

CLASSES = ("Blank page", "Segmentation anomaly", "Illustration or photograph", "Musical notation", "Map")
SMALL = SearchSpace(embeddings=("noise", "good"), Cs=(1e-2, 1.0, 1e2), inner_folds=3, seed=0)


def synthetic(n_per_class: int = 15, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`good` separates three classes (one blob each), `noise` carries no information;
    `bits` is packed like phash so the unpacking path is exercised too."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["Blank page", "Map", "Segmentation anomaly"], n_per_class)
    centres = {c: rng.normal(size=16) * 3 for c in set(labels)}
    good = np.stack([centres[c] + rng.normal(size=16) * 0.3 for c in labels]).astype(np.float32)
    noise = rng.normal(size=(len(labels), 16)).astype(np.float32)
    bits = np.packbits(rng.integers(0, 2, size=(len(labels), 64)).astype(np.uint8), axis=1)
    return {"good": good, "noise": noise, "bits": bits}, labels


def test_nested_cv_chooses_the_separating_embedding_in_every_outer_fold():
    vectors, y = synthetic()
    space = replace(SMALL, embeddings=("noise", "bits", "good"), Cs=(1e-2, 1e2))
    features = stack_features(vectors, space.embeddings)
    report = nested_cross_validate(features, y, space, outer_folds=3, all_classes=CLASSES, n_jobs=1)
    assert [f.embedding for f in report.folds] == ["good"] * 3
    assert report.summary("f1_micro")[0] > 0.95
    assert sum(map(sum, report.confusion)) == len(y)
    by_name = {c.name: c for c in report.per_class}
    assert by_name["Musical notation"].support == 0 and by_name["Musical notation"].precision is None
    text = format_report(report)
    assert "good x3" in text and "no examples" in text


def test_the_embedding_type_is_a_grid_parameter_of_one_pipeline():
    vectors, y = synthetic()
    features = stack_features(vectors, ("noise", "good"))
    search = build_grid_search(features.layout, SMALL).fit(features.X, y)
    assert search.best_params_["select__embedding"] == "good"
    assert set(search.cv_results_["param_select__embedding"]) == {"noise", "good"}


@pytest.fixture(scope="module")
def trained() -> tuple:
    """(model, vectors, labels, features): one small model shared by the storage tests."""
    vectors, y = synthetic()
    features = stack_features(vectors, ("noise", "good"))
    data = TrainingData(training_set_hash([str(i) for i in range(len(y))], list(y)), CLASSES, {"good": "good:v1"})
    return train_classifier(features, y, SMALL, data), vectors, y, features


def test_trained_model_round_trips_without_pickle_and_predicts_like_sklearn(tmp_path: Path, trained):
    model, vectors, y, features = trained
    assert model.embedding == "good" and model.classes == ("Blank page", "Map", "Segmentation anomaly")
    folder = save_classifier(model, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.npz"]
    meta = json.loads((folder / "model.json").read_text())
    assert meta["classes_without_examples"] == ["Illustration or photograph", "Musical notation"]
    loaded = load_classifier(folder)
    reference = build_grid_search(features.layout, replace(SMALL, embeddings=("good",), Cs=(model.C,)))
    reference.fit(features.X, y)
    np.testing.assert_allclose(loaded.predict_proba(vectors["good"]), reference.predict_proba(features.X), atol=1e-6)
    predictions = loaded.predict_documents({"good": vectors["good"]})
    assert [cls for cls, _ in predictions] == list(reference.predict(features.X))
    probs = predictions[0][1]
    assert set(probs) == set(CLASSES) and probs["Musical notation"] == 0.0
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ClassifierError, match="needs 'good' vectors"):
        loaded.predict_documents({"noise": vectors["noise"]})


def test_a_model_from_another_sklearn_version_loads_with_a_clear_warning(tmp_path: Path, trained):
    model = trained[0]
    folder = save_classifier(model, tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["sklearn_version"] = "0.24.2"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.warns(ClassifierVersionWarning, match="0.24.2"):
        load_classifier(folder)
    meta["format"] = 99
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ClassifierError, match="format 99"):
        load_classifier(folder)


def test_current_classifier_is_none_until_one_is_trained(tmp_path: Path, trained):
    settings = load_settings(env=isolated_env(classifier_model_dir=str(tmp_path)))
    assert load_current_classifier(settings) is None
    model = trained[0]
    save_classifier(model, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_current_classifier(settings).version == model.version


# -- labels ----------------------------------------------------------------------------------

PAPER_CLASSES = ClassList.from_settings(
    load_settings(env=isolated_env()).classifier.classes,
    load_settings(env=isolated_env()).classifier.class_aliases,
)
URL = "https://iiif.example/iiif/URN:NBN:no-nb_digibok_1_0001/10,20,30,40/!256,256/0/default.jpg"


def test_label_studio_export_full_and_min(tmp_path: Path):
    full = [{
        "id": 1, "data": {"image": URL},
        "annotations": [
            {"completed_by": {"email": "a@lib"}, "updated_at": "2024-01-01T10:00:00Z",
             "result": [{"type": "choices", "value": {"choices": ["Map"]}}]},
            {"completed_by": 7, "updated_at": "2024-02-01T10:00:00Z",
             "result": [{"type": "choices", "value": {"choices": ["Graphical element (other)"]}}]},
        ],
    }, {"id": 2, "data": {"image": "b.jpg"}, "annotations": [
        {"result": [{"type": "choices", "value": {"choices": ["Map", "Blank page"]}}]}]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(full))
    (record,) = read_labels(path, PAPER_CLASSES)  # the ambiguous two-choice task is left out
    assert (record.image, record.label, record.labelled_by) == (URL, "Graphical element", "7")
    path.write_text(json.dumps([{"image": "a.jpg", "choice": "blank page", "annotator": 3}]))
    assert [(r.image, r.label) for r in read_labels(path, PAPER_CLASSES)] == [("a.jpg", "Blank page")]


def test_paper_json_layout_and_csv(tmp_path: Path):
    paper = tmp_path / "labelled_data.json"
    paper.write_text(json.dumps({
        "Map": {"u1": True, "u2": False, "u3": True},
        "Blank page": {"u1": False, "u2": True, "u3": True},
    }))
    assert sorted((r.image, r.label) for r in read_labels(paper, PAPER_CLASSES)) == [("u1", "Map"), ("u2", "Blank page")]
    plain = tmp_path / "plain.csv"
    plain.write_text("x/a.jpg,Map\nx/b.jpg,Segmentation anomaly\n")
    assert [r.label for r in read_labels(plain, PAPER_CLASSES)] == ["Map", "Segmentation anomaly"]
    real = read_labels(SHARED_DATA / "images" / "labels.csv", PAPER_CLASSES)
    assert len(real) == 253 and {r.label for r in real} <= set(PAPER_CLASSES.classes)


def test_unknown_class_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("image,label\na.jpg,Mpa\n")
    with pytest.raises(LabelError, match="'Mpa'.*configured classes"):
        read_labels(path, PAPER_CLASSES)


def test_training_set_merges_newest_label_per_image(tmp_path: Path):
    path = tmp_path / "training_set.csv"
    first = read_labels(_csv(tmp_path / "1.csv", [("a", "Map"), ("b", "Map")]), PAPER_CLASSES)
    merge_training_set(path, first, labelled_by="ann", now="2024-01-01T00:00:00+00:00")
    second = read_labels(_csv(tmp_path / "2.csv", [("b", "Blank page")]), PAPER_CLASSES)
    merged = merge_training_set(path, second, now="2024-02-01T00:00:00+00:00")
    assert [(r.image, r.label, r.labelled_at[:7]) for r in merged] == [("a", "Map", "2024-01"), ("b", "Blank page", "2024-02")]
    assert training_set_hash(["a", "b"], ["Map", "Blank page"]) == training_set_hash(["b", "a"], ["Blank page", "Map"])


def _csv(path: Path, rows) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([("image", "label"), *rows])
    return path


def test_cli_evaluate_and_train_on_real_images_with_phash(tmp_path: Path):
    """End to end on a few real labelled images (phash: no weights needed, fast)."""
    from vignett.cli import main

    rows = list(csv.DictReader((SHARED_DATA / "images" / "labels.csv").open()))
    picked = [r for label in ("Blank page", "Map", "Segmentation anomaly")
              for r in [x for x in rows if x["label"] == label][:8]]
    labels = _csv(tmp_path / "labels.csv", [(r["file"], r["label"]) for r in picked])
    env = isolated_env(paths_cache_dir=str(tmp_path / "cache"), classifier_n_jobs="1", classifier_c_count="3")
    common = ["--images", str(SHARED_DATA / "images"), "--labels", str(labels), "--embeddings", "phash"]
    out = tmp_path / "results" / "eval"
    result = CliRunner().invoke(main, ["classify", "evaluate", *common, "--outer-folds", "3",
                                       "--inner-folds", "2", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "micro-F1" in result.output and "phash x3" in result.output
    assert (tmp_path / "results" / "eval-confusion.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results" / "eval.json").read_text())["n_samples"] == 24
    result = CliRunner().invoke(main, ["classify", "train", *common], env={**env, "VIGNETT_CLASSIFIER_INNER_FOLDS": "2"})
    assert result.exit_code == 0, result.output
    model = load_current_classifier(load_settings(env=env))
    assert model.embedding == "phash" and model.scores["nested_cv"]["outer_folds"] == 3
