"""`vignett classify import-labels|evaluate|train|apply`: the picture classifier end to end.

Labelled vectors come either from image files (`--images DIR`, labels naming paths under DIR;
embedded here and cached) or from the index (`--from-index`: documents carrying a `label`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from vignett.config import Settings

RANDOM_BANNER = (
    "!" * 78 + "\n! RANDOM WEIGHTS: vit/clip/siglip vectors come from untrained networks; the scores\n"
    "! below are NOT what pretrained models score. phash needs no weights.\n" + "!" * 78
)


@click.group("classify")
def classify() -> None:
    """Label pictures, evaluate and train the classifier, write its predictions to the index."""


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj["settings"]


def _class_list(settings: Settings):
    from vignett.models.labels import ClassList

    return ClassList.from_settings(settings.classifier.classes, settings.classifier.class_aliases)


def _training_set_path(settings: Settings) -> Path:
    from vignett.models.classifier import classifier_dir

    return classifier_dir(settings) / "training_set.csv"


def _client(settings: Settings):
    from vignett.indexing.es_client import SearchBackendUnavailable, check_reachable, connect, elasticsearch_url

    try:
        client = connect(settings)
        check_reachable(client, elasticsearch_url(settings))
    except SearchBackendUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    return client


@classify.command("import-labels")
@click.argument("label_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "label-studio", "paper-json", "csv"]), default="auto",
              show_default=True, help="Label Studio JSON export, the paper's labelled_data.json, or CSV image,label.")
@click.option("--labelled-by", default="", help="Who labelled, where the file does not say.")
@click.option("--no-index", is_flag=True, help="Only update the training-set file, not the documents.")
@click.pass_context
def import_labels(ctx: click.Context, label_file: Path, fmt: str, labelled_by: str, no_index: bool) -> None:
    """Read LABEL_FILE, merge it into the training set and write `label` onto the documents."""
    from vignett.models.labels import LabelError, merge_training_set, read_labels

    settings = _settings(ctx)
    try:
        records = read_labels(label_file, _class_list(settings), fmt)  # type: ignore[arg-type]
    except LabelError as exc:
        raise click.ClickException(str(exc)) from None
    path = _training_set_path(settings)
    merged = merge_training_set(path, records, labelled_by=labelled_by)
    stored = {r.image: r for r in merged}
    click.echo(f"{len(records)} labels read; training set {path} now holds {len(merged)}")
    if no_index:
        return
    from vignett.indexing.labels_store import write_labels

    report = write_labels(_client(settings), settings.index.alias, [stored[r.image] for r in records])
    click.echo(f"labels written to {report.written} documents in {settings.index.alias}; "
               f"{len(report.unmatched)} name no indexed document")
    for key in report.unmatched[:10]:
        click.echo(f"  not indexed: {key}", err=True)
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} documents could not be updated: {report.failed}")


@dataclass
class LabelledData:
    keys: list[str]
    labels: list[str]
    vectors: dict[str, np.ndarray]
    embedder_versions: dict[str, str]
    weights: str
    origin: str


def data_options(command):
    """The options that say where labelled vectors come from (shared by evaluate and train)."""
    options = [
        click.option("--images", "images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Embed labelled image files under this folder (labels name paths relative to it)."),
        click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Label file for --images (default: the stored training set)."),
        click.option("--from-index", is_flag=True, help="Use labelled documents and their vectors in the index."),
        click.option("--embeddings", "embeddings_csv", default=None,
                     help="Candidate embedding types, comma-separated (default: classifier.embeddings)."),
        click.option("--weights", type=click.Choice(["pretrained", "random"]), default=None,
                     help="For --images: pretrained (default: models.weights) or random (never chosen silently)."),
        click.option("--precision", type=click.Choice(["fp32", "bf16"]), default=None,
                     help="For --images: torch precision (default: models.precision)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _load_data(settings: Settings, images_dir, labels_file, from_index, embeddings_csv, weights, precision) -> LabelledData:
    embeddings = tuple(e.strip() for e in (embeddings_csv.split(",") if embeddings_csv else settings.classifier.embeddings) if e.strip())
    if bool(images_dir) == bool(from_index):
        raise click.UsageError("give either --images DIR (with --labels FILE) or --from-index")
    if from_index:
        from vignett.indexing.labels_store import read_labelled_vectors

        data = read_labelled_vectors(_client(settings), settings.index.alias, embeddings)
        if not data.ids:
            raise click.ClickException(f"no labelled documents with vectors for {', '.join(embeddings)} in {settings.index.alias}")
        weights_kind = "random" if any("random" in v for v in data.embedder_versions.values()) else "pretrained"
        return LabelledData(data.ids, data.labels, data.vectors, data.embedder_versions, weights_kind, "index")
    return _load_files(settings, images_dir, labels_file, embeddings, weights or settings.models.weights,
                       precision or settings.models.precision)


def _load_files(settings: Settings, images_dir: Path, labels_file, embeddings, weights: str, precision: str) -> LabelledData:
    from vignett.models.classifier import classifier_dir
    from vignett.models.errors import EmbedderError
    from vignett.models.label_vectors import embed_label_files
    from vignett.models.labels import LabelError, load_training_set, read_labels

    try:
        records = read_labels(labels_file, _class_list(settings)) if labels_file else load_training_set(_training_set_path(settings))
    except LabelError as exc:
        raise click.ClickException(str(exc)) from None
    missing = [r.image for r in records if not (images_dir / r.image).is_file()]
    if missing:
        raise click.ClickException(f"{len(missing)} labelled images are not files under {images_dir}, e.g. {missing[:3]}")
    if weights == "random":
        click.secho(RANDOM_BANNER, err=True, fg="yellow")
    started = time.monotonic()
    try:
        vectors, versions = embed_label_files(
            [images_dir / r.image for r in records], embeddings, weights=weights,
            cache_dir=classifier_dir(settings) / "vectors", device=settings.models.device,
            seed=settings.models.random_seed, precision=precision,
            weights_dir=settings.models.weights_dir or None, batch_size=settings.models.batch_size,
        )
    except EmbedderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"vectors for {len(records)} images x {len(embeddings)} embeddings ready in "
               f"{time.monotonic() - started:.1f} s ({weights} weights, {precision}; cached under "
               f"{classifier_dir(settings) / 'vectors'})", err=True)
    return LabelledData([r.image for r in records], [r.label for r in records], vectors, versions, weights, "files")


@classify.command("evaluate")
@data_options
@click.option("--outer-folds", type=int, default=None, help="Outer folds (default: classifier.outer_folds).")
@click.option("--inner-folds", type=int, default=None, help="Inner folds (default: classifier.inner_folds).")
@click.option("--n-jobs", type=int, default=None, help="Parallel outer folds (default: classifier.n_jobs).")
@click.option("--out", "out_prefix", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("results/classify-evaluate"), show_default=True,
              help="Writes OUT.json and OUT-confusion.png.")
@click.pass_context
def evaluate(ctx, images_dir, labels_file, from_index, embeddings_csv, weights, precision,
             outer_folds, inner_folds, n_jobs, out_prefix) -> None:
    """Nested cross-validation: outer folds score a grid search over embedding type x C."""
    from dataclasses import replace

    from vignett.models.classifier import SearchSpace, classifier_dir, stack_features
    from vignett.models.classifier_eval import format_report, nested_cross_validate, write_report
    from vignett.models.labels import training_set_hash

    settings = _settings(ctx)
    cfg = settings.classifier
    data = _load_data(settings, images_dir, labels_file, from_index, embeddings_csv, weights, precision)
    space = SearchSpace.from_settings(cfg, list(data.vectors))
    space = replace(space, inner_folds=inner_folds or space.inner_folds)
    features = stack_features(data.vectors, space.embeddings)
    from vignett.models.classifier import ClassifierError

    try:
        report = nested_cross_validate(features, data.labels, space, outer_folds=outer_folds or cfg.outer_folds,
                                       all_classes=cfg.classes, n_jobs=cfg.n_jobs if n_jobs is None else n_jobs,
                                       verbose=2)  # joblib prints outer-fold progress to stderr
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from None
    report.context = {"weights": data.weights, "origin": data.origin, "embedder_versions": data.embedder_versions,
                      "training_set_hash": training_set_hash(data.keys, data.labels)}
    if data.weights == "random":
        report.notes.append("vit/clip/siglip use RANDOM weights: these are not pretrained scores")
    json_path, png_path = out_prefix.with_suffix(".json"), Path(f"{out_prefix}-confusion.png")
    write_report(report, json_path, png_path)
    stored = classifier_dir(settings) / "evaluations" / f"{report.context['training_set_hash']}.json"
    write_report(report, stored)
    click.echo(format_report(report))
    click.echo(f"wrote {json_path} and {png_path}")


@classify.command("train")
@data_options
@click.pass_context
def train(ctx, images_dir, labels_file, from_index, embeddings_csv, weights, precision) -> None:
    """Fit the final model on all labels (embedding type and C chosen by cross-validation) and make it current."""
    from vignett.models.classifier import (
        ClassifierError, SearchSpace, TrainingData, classifier_dir, save_classifier, stack_features, train_classifier,
    )
    from vignett.models.labels import training_set_hash

    settings = _settings(ctx)
    data = _load_data(settings, images_dir, labels_file, from_index, embeddings_csv, weights, precision)
    space = SearchSpace.from_settings(settings.classifier, list(data.vectors))
    digest = training_set_hash(data.keys, data.labels)
    started = time.monotonic()
    try:
        model = train_classifier(
            stack_features(data.vectors, space.embeddings), data.labels, space,
            TrainingData(digest, settings.classifier.classes, data.embedder_versions,
                         {"weights": data.weights, **_stored_evaluation(classifier_dir(settings), digest)}),
            n_jobs=settings.classifier.n_jobs,
        )
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from None
    folder = save_classifier(model, classifier_dir(settings))
    score = model.scores[f"inner_cv_{space.scoring}"]
    click.echo(f"trained {model.version} in {time.monotonic() - started:.1f} s: embedding {model.embedding}, "
               f"C {model.C:g}, {model.n_labels} labels, inner-CV {space.scoring} {score:.3f}"
               + (" (RANDOM weights)" if data.weights == "random" else ""))
    click.echo(f"saved to {folder} (current); run `vignett classify apply` to write predictions to the index")


def _stored_evaluation(root: Path, digest: str) -> dict:
    """The nested-CV scores `evaluate` stored for the same training set, if any."""
    path = root / "evaluations" / f"{digest}.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    return {"nested_cv": {k: report[k] for k in ("f1_micro", "f1_macro", "chosen_embeddings", "outer_folds", "inner_folds")}}


@classify.command("apply")
@click.option("--no-resume", is_flag=True, help="Rewrite documents that already carry this model's predictions.")
@click.option("--batch-size", type=int, default=None, help="Documents per request (default: classifier.apply_batch_size).")
@click.pass_context
def apply(ctx, no_resume: bool, batch_size: int | None) -> None:
    """Write predicted_class and class_probability.* with the current model to every document."""
    from vignett.indexing.classify_apply import apply_classifier
    from vignett.models.classifier import load_current_classifier

    settings = _settings(ctx)
    model = load_current_classifier(settings)
    if model is None:
        raise click.ClickException("no classifier trained yet: run `vignett classify train` first")
    report = apply_classifier(_client(settings), settings.index.alias, model,
                              batch_size=batch_size or settings.classifier.apply_batch_size, resume=not no_resume)
    click.echo(json.dumps(report.to_dict(), indent=2))
    if report.failed:
        ctx.exit(3)
