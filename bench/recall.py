"""kNN recall@10 of each vector index type against exact search, with query time and disk size.

    .venv/bin/python bench/recall.py [--n 100000] [--queries 200] [--options hnsw,int8_hnsw,bbq_hnsw,flat]
    .venv/bin/python bench/recall.py --options int8_hnsw,bbq_hnsw --oversample 0,3   # with rescoring

For each option the same synthetic, clustered, L2-normalised vectors (one field, default
`siglip`, 768 dims) go into their own alias `<prefix>-<option>` built by `ensure_index` (the
production mapping, only `vector_index_type` changed), are force-merged to one segment (so
sizes and graphs are comparable) and searched with kNN k=10 for each `--num-candidates`.
Quantised options are also searched with each `--oversample` > 0: the kNN query's
`rescore_vector` gathers oversample * k candidates by the quantised vectors and re-ranks them
by the float ones. The truth is numpy's exact top-10 by dot product. `flat` is the control: it is exact, so its
recall must be 1.0. Writes results/bench-recall-<n>.json; indices are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from elasticsearch import Elasticsearch
from elasticsearch.helpers import parallel_bulk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import RESULTS, ClusteredSpace, code_version, machine, store_bytes  # noqa: E402
from vignett.config import Settings, load_settings  # noqa: E402
from vignett.indexing.es_client import connect  # noqa: E402
from vignett.indexing.index import ensure_index  # noqa: E402
from vignett.models.specs import EMBEDDER_SPECS  # noqa: E402

DEFAULT_OPTIONS = ("hnsw", "int8_hnsw", "bbq_hnsw", "flat")
QUANTISED = ("int8_hnsw", "int4_hnsw", "bbq_hnsw", "int8_flat", "int4_flat", "bbq_flat")
K = 10


@dataclasses.dataclass(frozen=True)
class RecallRow:
    option: str
    num_candidates: int
    oversample: float
    recall_mean: float
    recall_min: float
    median_ms: float
    median_took_ms: float


@dataclasses.dataclass(frozen=True)
class OptionResult:
    option: str
    index: str
    documents: int
    load_s: float
    merge_s: float
    size_bytes: int
    bytes_per_document: float
    rows: list[RecallRow]


def exact_top_k(docs: np.ndarray, queries: np.ndarray, k: int = K, chunk: int = 50) -> list[list[str]]:
    """Brute-force top-k ids by dot product (= cosine: everything is normalised)."""
    out: list[list[str]] = []
    for start in range(0, len(queries), chunk):
        scores = queries[start:start + chunk] @ docs.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        for row, cand in zip(scores, top):
            out.append([str(i) for i in cand[np.argsort(-row[cand])]])
    return out


def actions(index: str, field: str, docs: np.ndarray) -> Iterator[dict]:
    for i, vector in enumerate(docs):
        yield {"_op_type": "index", "_index": index, "_id": str(i), "_source": {field: vector.tolist()}}


def load(client: Elasticsearch, index: str, field: str, docs: np.ndarray, threads: int) -> float:
    """Plain index ops through parallel_bulk: the fastest path for fresh documents (no upsert)."""
    started = time.perf_counter()
    failed = 0
    for ok, _ in parallel_bulk(client, actions(index, field, docs), thread_count=threads, chunk_size=500,
                               raise_on_error=False):
        failed += not ok
    if failed:
        raise SystemExit(f"{failed} documents failed to index into {index}")
    return time.perf_counter() - started


def search_all(client: Elasticsearch, alias: str, field: str, queries: np.ndarray, num_candidates: int,
               truth: list[list[str]], oversample: float = 0.0) -> tuple[list[float], list[float], list[float]]:
    """Recall@10, client wall time and Elasticsearch `took` per query."""
    recalls, wall, took = [], [], []
    for vector, expected in zip(queries, truth):
        knn = {"field": field, "query_vector": vector.tolist(), "k": K, "num_candidates": num_candidates}
        if oversample:
            knn["rescore_vector"] = {"oversample": oversample}
        started = time.perf_counter()
        response = client.search(index=alias, knn=knn, size=K, source=False)
        wall.append((time.perf_counter() - started) * 1000)
        took.append(float(response["took"]))
        got = {hit["_id"] for hit in response["hits"]["hits"]}
        recalls.append(len(got & set(expected)) / K)
    return recalls, wall, took


def bench_option(client: Elasticsearch, settings: Settings, option: str, prefix: str, field: str,
                 docs: np.ndarray, queries: np.ndarray, truth: list[list[str]], candidates: list[int],
                 oversamples: list[float], threads: int) -> OptionResult:
    index_settings = dataclasses.replace(settings.index, alias=f"{prefix}-{option}", vector_index_type=option)
    status = ensure_index(client, index_settings)
    slow = client.options(request_timeout=3600)
    load_s = load(slow, status.index, field, docs, threads)
    slow.indices.refresh(index=status.index)
    started = time.perf_counter()
    slow.indices.forcemerge(index=status.index, max_num_segments=1)
    merge_s = time.perf_counter() - started
    slow.indices.refresh(index=status.index)
    count = client.count(index=status.index)["count"]
    size = store_bytes(client, status.index)
    search_all(client, status.alias, field, queries[: min(10, len(queries))], candidates[0], truth)  # warm-up
    rows = []
    for oversample in (oversamples if option in QUANTISED else [0.0]):
        for nc in candidates:
            recalls, wall, took = search_all(client, status.alias, field, queries, nc, truth, oversample)
            rows.append(RecallRow(option, nc, oversample, round(statistics.fmean(recalls), 4), min(recalls),
                                  round(statistics.median(wall), 3), statistics.median(took)))
    return OptionResult(option, status.index, count, round(load_s, 2), round(merge_s, 2), size,
                        round(size / count, 1) if count else 0.0, rows)


def result_key(row: RecallRow) -> str:
    """Result key: `100` is plain kNN with num_candidates 100, `100+rescore3` the same with
    rescore_vector oversample 3."""
    return f"{row.num_candidates}+rescore{row.oversample:g}" if row.oversample else str(row.num_candidates)


def print_table(results: list[OptionResult]) -> None:
    print(f"{'option':<11} {'cand':>5} {'rescore':>7} {'recall@10':>10} {'min':>5} {'median ms':>10} {'took ms':>8} "
          f"{'size MB':>9} {'B/doc':>8}")
    for result in results:
        for row in result.rows:
            rescore = f"x{row.oversample:g}" if row.oversample else "-"
            print(f"{row.option:<11} {row.num_candidates:>5} {rescore:>7} {row.recall_mean:>10.4f} {row.recall_min:>5.2f} "
                  f"{row.median_ms:>10.2f} {row.median_took_ms:>8.1f} {result.size_bytes / 1e6:>9.1f} "
                  f"{result.bytes_per_document:>8.0f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="documents per index")
    parser.add_argument("--queries", type=int, default=200, help="held-out query vectors")
    parser.add_argument("--field", default="siglip", help="vector field (a float model of models/specs.py)")
    parser.add_argument("--options", default=",".join(DEFAULT_OPTIONS), help="vector_index_type values to compare")
    parser.add_argument("--num-candidates", default="100,200", help="kNN num_candidates values")
    parser.add_argument("--oversample", default="0",
                        help="rescore_vector oversample factors for quantised options (0 = no rescoring)")
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--spread", type=float, default=0.8, help="noise norm around a cluster centre")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4, help="parallel_bulk threads")
    parser.add_argument("--alias-prefix", default="vignett-bench-recall")
    parser.add_argument("--out", help="JSON path (default results/bench-recall-<n>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the indices afterwards")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    spec = EMBEDDER_SPECS[args.field]
    if spec.element_type != "float":
        raise SystemExit(f"{args.field} is not a float vector field")
    options = [o.strip() for o in args.options.split(",") if o.strip()]
    candidates = sorted(int(c) for c in args.num_candidates.split(","))
    oversamples = sorted(float(o) for o in args.oversample.split(","))
    if "bbq_hnsw" in options and spec.dim < 64:
        raise SystemExit("bbq_hnsw needs at least 64 dimensions")
    rng = np.random.default_rng(args.seed)
    space = ClusteredSpace.create(rng, spec.dim, args.clusters, args.spread)
    docs, queries = space.sample(rng, args.n), space.sample(rng, args.queries)
    started = time.perf_counter()
    truth = exact_top_k(docs, queries)
    exact_ms = (time.perf_counter() - started) * 1000 / len(queries)
    settings = load_settings()
    client = connect(settings)
    results: list[OptionResult] = []
    try:
        for option in options:
            print(f"{option}: loading {args.n} documents ...", flush=True)
            results.append(bench_option(client, settings, option, args.alias_prefix, args.field, docs, queries,
                                        truth, candidates, oversamples, args.threads))
    finally:
        if not args.keep:
            for option in options:
                client.indices.delete(index=f"{args.alias_prefix}-{option}-*", ignore_unavailable=True)
    print_table(results)
    report = {
        "benchmark": "recall", "n": args.n, "queries": args.queries, "field": args.field, "dims": spec.dim,
        "k": K, "num_candidates": candidates, "distribution": {"clusters": args.clusters, "spread": args.spread,
                                                               "seed": args.seed},
        "hnsw": {"m": settings.index.hnsw_m, "ef_construction": settings.index.hnsw_ef_construction},
        "numpy_exact_ms_per_query": round(exact_ms, 3), "machine": machine(), "code": code_version(),
        "options": {r.option: {**{k: v for k, v in dataclasses.asdict(r).items() if k != "rows"},
                               "results": {result_key(row): dataclasses.asdict(row) for row in r.rows}}
                    for r in results},
    }
    out = args.out or str(RESULTS / f"bench-recall-{args.n}.json")
    RESULTS.mkdir(exist_ok=True)
    with open(out, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
