"""Query latency of the GraphQL API over a synthetic index, next to the same searches sent to
Elasticsearch directly, so the API's own overhead is visible.

    .venv/bin/python bench/latency.py --n 100000 --weights random          # load, serve, query
    .venv/bin/python bench/latency.py --n 100000 --load-only               # or in two steps
    .venv/bin/python bench/latency.py --n 100000 --skip-load --weights random
    .venv/bin/python bench/latency.py --n 100000 --skip-load --api http://127.0.0.1:8000  # a server you run

Documents: three vector fields (vit 768, clip 512, siglip 768) from clustered distributions,
`context` sampled from real OCR text (String/@CONTENT of the ALTO files under
../shared/data/alto), `year` uniform in 1500-1900 and `predicted_class` drawn with
CLASS_WEIGHTS. Each query kind is sent `--queries` times, mixed in one fixed shuffled order,
at concurrency 1 and 8 (asyncio + httpx); median/p95/p99 per kind and queries/s are printed
and written to results/bench-latency-<n>.json with the machine description. Without --api the
benchmark starts `vignett serve` on the bench alias itself (log: results/bench-latency-<n>-serve.log).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch.helpers import parallel_bulk
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server import serve_env, serving  # noqa: E402
from bench.synthetic import RESULTS, ClusteredSpace, code_version, latency_summary, machine, store_bytes  # noqa: E402
from vignett.config import Settings, load_settings  # noqa: E402
from vignett.indexing.es_client import connect  # noqa: E402
from vignett.indexing.index import ensure_index  # noqa: E402
from vignett.models.specs import EMBEDDER_SPECS  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VECTOR_FIELDS = ("vit", "clip", "siglip")
# Plausible weights after the paper's finding that about 43 % of detected regions are blank
# pages or segmentation anomalies; the split of the rest is our guess, not a published figure.
CLASS_WEIGHTS = {
    "Blank page": 0.23, "Segmentation anomaly": 0.20, "Illustration or photograph": 0.30,
    "Graphical element": 0.17, "Map": 0.04, "Musical notation": 0.03, "Mathematical chart": 0.03,
}
ALL_KINDS = ("text", "similarTo", "vector", "upload", "text+image+filter", "semanticText")
WITH_UPLOAD = ("upload", "text+image+filter")
CONCURRENCY = (1, 8)
FIRST = 20
SEED = 1
TEXT_QUERIES = ("kirke", "konge", "the", "und", "la", "Christiania", "Bergen", "portrait", "map", "church")

EDGES = "totalCount edges { score node { id } }"
GRAPHQL = {
    "text": f"query($t: String!) {{ search(text: $t, first: {FIRST}) {{ {EDGES} }} }}",
    "similarTo": f"query($id: ID!, $m: Model) {{ search(similarTo: $id, model: $m, first: {FIRST}) {{ {EDGES} }} }}",
    "vector": f"query($v: [Float!], $m: Model) {{ search(vector: $v, model: $m, first: {FIRST}) {{ {EDGES} }} }}",
    "text+image+filter": ("query($t: String!, $img: Upload!, $m: Model) { search(text: $t, image: $img, model: $m, "
                           "filter: {yearFrom: 1700, yearTo: 1850, excludeClasses: [\"Blank page\", "
                           f"\"Segmentation anomaly\"]}}, first: {FIRST}) {{ {EDGES} }} }}"),
    "semanticText": f"query($t: String!, $m: Model) {{ search(semanticText: $t, model: $m, first: {FIRST}) {{ {EDGES} }} }}",
    "upload": f"query($img: Upload!, $m: Model) {{ search(image: $img, model: $m, first: {FIRST}) {{ {EDGES} }} }}",
}
FILTER = {"bool": {"filter": [{"range": {"year": {"gte": 1700, "lte": 1850}}}],
                   "must_not": [{"terms": {"predicted_class": ["Blank page", "Segmentation anomaly"]}}]}}


# ---------------------------------------------------------------- synthetic documents

def ocr_words(root: Path = SHARED_DATA / "alto", limit: int = 500_000) -> list[str]:
    """Words of real OCR text (any ALTO namespace), so BM25 sees a realistic vocabulary."""
    words: list[str] = []
    for path in sorted(root.rglob("*.xml")):
        try:
            for _, element in etree.iterparse(str(path), events=("end",), huge_tree=True):
                if etree.QName(element).localname == "String":
                    content = element.get("CONTENT")
                    if content:
                        words.append(content)
                element.clear()
        except etree.XMLSyntaxError:
            continue
        if len(words) >= limit:
            break
    if not words:
        raise SystemExit(f"no OCR text found under {root}")
    return words


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The synthetic collection: one vector space per model and the OCR vocabulary."""

    spaces: dict[str, ClusteredSpace]
    words: list[str]

    @classmethod
    def create(cls, seed: int = SEED) -> Corpus:
        rng = np.random.default_rng(seed)
        spaces = {f: ClusteredSpace.create(rng, EMBEDDER_SPECS[f].dim) for f in VECTOR_FIELDS}
        return cls(spaces, ocr_words())


def doc_id(i: int) -> str:
    return f"bench-{i:08d}"


def documents(corpus: Corpus, n: int, seed: int = SEED, batch: int = 1000) -> Iterator[tuple[str, dict]]:
    rng = np.random.default_rng(seed + 1)
    classes, weights = list(CLASS_WEIGHTS), np.array(list(CLASS_WEIGHTS.values()))
    for start in range(0, n, batch):
        size = min(batch, n - start)
        vectors = {f: space.sample(rng, size) for f, space in corpus.spaces.items()}
        years = rng.integers(1500, 1901, size)
        picked = rng.choice(len(classes), size, p=weights / weights.sum())
        for j in range(size):
            i = start + j
            length = int(rng.integers(10, 80))
            offset = int(rng.integers(0, max(1, len(corpus.words) - length)))
            book = i // 50
            yield doc_id(i), {
                **{f: vectors[f][j].tolist() for f in VECTOR_FIELDS},
                "context": " ".join(corpus.words[offset:offset + length]),
                "year": int(years[j]), "predicted_class": classes[picked[j]],
                "book_id": f"bench-book-{book}", "page_id": f"bench-page-{i // 5}", "page_number": i % 400 + 1,
                "title": f"Synthetic book {book}", "element_type": "Illustration", "source": "bench",
                "iiif_base": "http://127.0.0.1:1/iiif", "iiif_id": f"bench-page-{i // 5}",
                "bbox": {"x": 10, "y": 10, "w": 300, "h": 200}, "weights": "synthetic",
            }


def load(client: Elasticsearch, settings: Settings, alias: str, corpus: Corpus, n: int, threads: int = 4) -> dict:
    status = ensure_index(client, dataclasses.replace(settings.index, alias=alias))
    slow = client.options(request_timeout=3600)
    started = time.perf_counter()
    failed = 0
    ops = ({"_op_type": "index", "_index": status.index, "_id": i, "_source": s} for i, s in documents(corpus, n))
    for ok, _ in parallel_bulk(slow, ops, thread_count=threads, chunk_size=500, raise_on_error=False):
        failed += not ok
    slow.indices.refresh(index=status.index)
    seconds = time.perf_counter() - started
    if failed:
        raise SystemExit(f"{failed} documents failed to index into {status.index}")
    return {"alias": alias, "index": status.index, "documents": client.count(index=alias)["count"],
            "load_s": round(seconds, 2), "size_bytes": store_bytes(client, status.index)}


# ---------------------------------------------------------------- the query mix

@dataclasses.dataclass(frozen=True)
class Query:
    kind: str
    variables: dict
    vector: list[float] | None = None
    text: str | None = None


def query_mix(corpus: Corpus, kinds: list[str], per_kind: int, n: int, model: str, seed: int = SEED) -> list[Query]:
    """The same shuffled list for every run: kinds interleave, so no kind sees only a warm cache."""
    rng = np.random.default_rng(seed + 2)
    pick = random.Random(seed)
    mix: list[Query] = []
    for kind in kinds:
        for _ in range(per_kind):
            text = pick.choice(TEXT_QUERIES)
            vector = corpus.spaces[model].sample(rng, 1)[0].tolist()
            variables = {"m": model.upper()}
            if kind in ("text", "semanticText", "text+image+filter"):
                variables["t"] = text
            if kind == "vector":
                variables["v"] = vector
            if kind == "similarTo":
                variables["id"] = doc_id(pick.randrange(n))
            if kind == "text":
                variables.pop("m")
            mix.append(Query(kind, variables, vector, text))
    pick.shuffle(mix)
    return mix


async def send(client: httpx.AsyncClient, query: Query, upload: bytes | None) -> None:
    if query.kind in WITH_UPLOAD:
        operations = {"query": GRAPHQL[query.kind], "variables": {**query.variables, "img": None}}
        response = await client.post("/graphql", headers={"GraphQL-Require-Preflight": "1"},
                                     data={"operations": json.dumps(operations), "map": '{"0": ["variables.img"]}'},
                                     files={"0": ("query.jpg", upload or b"", "image/jpeg")})
    else:
        response = await client.post("/graphql", json={"query": GRAPHQL[query.kind], "variables": query.variables})
    body = response.json()
    if body.get("errors"):
        raise SystemExit(f"{query.kind} failed: {body['errors'][0].get('message')}")


async def run_api(api: str, mix: list[Query], concurrency: int, upload: bytes | None) -> tuple[dict[str, list[float]], float]:
    """`concurrency` workers take queries off one queue; per-kind times and the total wall time."""
    times: dict[str, list[float]] = {}
    queue: asyncio.Queue[Query] = asyncio.Queue()
    for query in mix:
        queue.put_nowait(query)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as client:
        for query in {q.kind: q for q in mix}.values():  # one warm-up per kind (model load, caches)
            await send(client, query, upload)

        async def worker() -> None:
            while not queue.empty():
                query = queue.get_nowait()
                started = time.perf_counter()
                await send(client, query, upload)
                times.setdefault(query.kind, []).append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return times, time.perf_counter() - started


# ---------------------------------------------------------------- the same searches, direct

def direct_search(client: Elasticsearch, alias: str, query: Query, model: str, k: int, candidates: int) -> None:
    """What the API asks Elasticsearch for, without GraphQL, embedding or fusion in Python."""
    knn = {"field": model, "query_vector": query.vector, "k": k, "num_candidates": candidates}
    match = {"multi_match": {"query": query.text, "fields": ["context", "caption^2"]}}
    if query.kind == "knn":
        client.search(index=alias, knn=knn, size=FIRST, source=False)
    elif query.kind == "match":
        client.search(index=alias, query=match, size=FIRST, source=False)
    else:  # the API sends these two under the same filter and fuses in Python
        client.search(index=alias, knn={**knn, "filter": FILTER}, size=FIRST, source=False)
        client.search(index=alias, query={"bool": {"must": [match], "filter": [FILTER]}}, size=k, source=False)


def run_direct(client: Elasticsearch, alias: str, mix: list[Query], concurrency: int,
               call: Callable[[Query], None]) -> tuple[dict[str, list[float]], float]:
    times: dict[str, list[float]] = {}

    def timed(query: Query) -> tuple[str, float]:
        started = time.perf_counter()
        call(query)
        return query.kind, (time.perf_counter() - started) * 1000

    for query in {q.kind: q for q in mix}.values():
        call(query)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for kind, ms in pool.map(timed, mix):
            times.setdefault(kind, []).append(ms)
    return times, time.perf_counter() - started


def direct_mix(mix: list[Query]) -> list[Query]:
    """API kinds mapped onto the Elasticsearch request they mostly are."""
    kinds = {"text": "match", "vector": "knn", "text+image+filter": "match+knn+filter"}
    return [dataclasses.replace(q, kind=kinds[q.kind]) for q in mix if q.kind in kinds]


def summarise(times: dict[str, list[float]], wall_s: float) -> dict:
    total = sum(len(t) for t in times.values())
    return {"queries": total, "wall_s": round(wall_s, 3), "queries_per_s": round(total / wall_s, 2) if wall_s else 0.0,
            "kinds": {kind: latency_summary(t) for kind, t in sorted(times.items())}}


def print_run(title: str, summary: dict) -> None:
    print(f"{title}: {summary['queries']} queries, {summary['queries_per_s']:.1f} q/s")
    for kind, row in summary["kinds"].items():
        print(f"  {kind:<20} median {row['median_ms']:>8.1f}  p95 {row['p95_ms']:>8.1f}  p99 {row['p99_ms']:>8.1f} ms")


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="synthetic documents")
    parser.add_argument("--alias", help="default vignett-bench-latency-<n>")
    parser.add_argument("--api", help="a running `vignett serve` on that alias (default: start one)")
    parser.add_argument("--weights", choices=("pretrained", "random"),
                        help="models.weights of the server the benchmark starts (default: the settings')")
    parser.add_argument("--queries", type=int, default=200, help="queries per kind")
    parser.add_argument("--kinds", default=",".join(ALL_KINDS),
                        help="drop semanticText (needs a text model) or upload (needs the image model) if absent")
    parser.add_argument("--model", default="siglip", choices=VECTOR_FIELDS)
    parser.add_argument("--image", type=Path, help="upload query image (default: first chr24-nln image)")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--out", help="JSON path (default results/bench-latency-<n>.json)")
    return parser.parse_args(argv)


def index_shape(client: Elasticsearch, alias: str) -> dict:
    """Documents, segments and size when the queries run: HNSW search cost grows with segments."""
    stats = client.indices.stats(index=alias, metric="docs,store,segments")["_all"]["primaries"]
    return {"documents": stats["docs"]["count"], "segments": stats["segments"]["count"],
            "size_bytes": stats["store"]["size_in_bytes"],
            "bytes_per_document": round(stats["store"]["size_in_bytes"] / max(1, stats["docs"]["count"]))}


def run_queries(args: argparse.Namespace, client: Elasticsearch, settings: Settings, alias: str, corpus: Corpus,
                kinds: list[str], api: str) -> dict:
    upload = None
    if set(kinds) & set(WITH_UPLOAD):
        image = args.image or sorted((SHARED_DATA / "images" / "chr24-nln").glob("*.jpg"))[0]
        upload = image.read_bytes()
    mix = query_mix(corpus, kinds, args.queries, args.n, args.model)
    k, candidates = settings.api.default_k, min(max(2 * settings.api.default_k, 50), settings.api.max_num_candidates)
    report: dict = {"api": api, "queries_per_kind": args.queries, "kinds": kinds,
                    "direct_knn": {"k": k, "num_candidates": candidates}, "runs": {}}
    plain = direct_mix(mix)
    for concurrency in CONCURRENCY:
        api_times, api_wall = asyncio.run(run_api(api, mix, concurrency, upload))
        run: dict = {"api": summarise(api_times, api_wall)}
        print_run(f"API, concurrency {concurrency}", run["api"])
        if plain:
            es_times, es_wall = run_direct(client, alias, plain, concurrency,
                                           lambda q: direct_search(client, alias, q, args.model, k, candidates))
            run["elasticsearch"] = summarise(es_times, es_wall)
            print_run(f"Elasticsearch direct, concurrency {concurrency}", run["elasticsearch"])
        report["runs"][str(concurrency)] = run
    return report


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    alias = args.alias or f"vignett-bench-latency-{args.n}"
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - set(ALL_KINDS)
    if unknown:
        raise SystemExit(f"unknown kinds {sorted(unknown)}; choose from {', '.join(ALL_KINDS)}")
    out = Path(args.out) if args.out else RESULTS / f"bench-latency-{args.n}.json"
    settings = load_settings()
    client = connect(settings)
    corpus = Corpus.create()
    report: dict = {"benchmark": "latency", "n": args.n, "alias": alias, "machine": machine(),
                    "code": code_version(), "class_weights": CLASS_WEIGHTS, "model": args.model}
    if not args.skip_load:
        report["load"] = load(client, settings, alias, corpus, args.n)
        print(f"loaded {report['load']['documents']} documents into {alias} in {report['load']['load_s']} s")
    elif out.exists():  # keep the numbers of the --load-only run that built this alias
        earlier = json.loads(out.read_text())
        if earlier.get("alias") == alias and "load" in earlier:
            report["load"] = earlier["load"]
    if not args.load_only:
        if client.count(index=alias)["count"] < args.n:
            raise SystemExit(f"{alias} holds fewer than {args.n} documents: load it first (drop --skip-load)")
        report["index_at_query_time"] = index_shape(client, alias)
        if args.api:
            report.update(run_queries(args, client, settings, alias, corpus, kinds, args.api))
        else:
            log = out.with_name(out.stem + "-serve.log")
            with serving(serve_env(alias, args.weights), log) as api:
                report.update(run_queries(args, client, settings, alias, corpus, kinds, api))
            report["server"] = {"started_by_benchmark": True, "weights": args.weights or settings.models.weights}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
