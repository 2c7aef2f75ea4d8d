"""Latency of the GraphQL API per query kind, over loopback against a running `vignett serve`.

    vignett serve --port 8000 &
    python bench/api_latency.py --url http://127.0.0.1:8000 --repeats 30 [--image some.jpg]

Each kind is sent `--warmup` times unmeasured, then `--repeats` times; median and p95 of
the wall time per request are printed and written to results/api_latency-<time>.json. Ids
for similarTo/image lookups are taken from the index itself (a browse query first).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

RESULTS = Path(__file__).resolve().parents[1] / "results"


def queries(ids: list[str], model: str, dim: int) -> dict[str, tuple[str, dict]]:
    one, many = ids[0], ids[:20]
    vector = [1.0 / dim**0.5] * dim
    return {
        "browse": ("{ search(first: 20) { totalCount edges { node { id } } } }", {}),
        "text": ('query { search(text: "the", first: 20) { totalCount edges { score highlights node { id } } '
                 "facets { classes { value count } } } }", {}),
        "filter": ('query { search(filter: {yearFrom: 1800, yearTo: 1900}, first: 20) { totalCount '
                   "edges { node { id } } facets { decades { value count } } } }", {}),
        "vector": ("query($v: [Float!], $m: Model) { search(vector: $v, model: $m, first: 20) { totalCount "
                   "edges { score node { id } } facets { books { value count } } } }", {"v": vector, "m": model}),
        "similarTo": ("query($id: ID!, $m: Model) { similar(id: $id, model: $m, first: 20) { edges { score node { id } } } }",
                      {"id": one, "m": model}),
        "text+vector (rrf)": ('query($v: [Float!], $m: Model) { search(text: "the", vector: $v, model: $m, first: 20) '
                              "{ totalCount edges { score node { id } } facets { classes { value count } } } }",
                              {"v": vector, "m": model}),
        "image(id)": ("query($id: ID!) { image(id: $id) { id iiifUrl(size: 256) viewerUrl book { title } } }", {"id": one}),
        "images(20 ids)": ("query($ids: [ID!]!) { images(ids: $ids) { id } }", {"ids": many}),
        "stats": ("{ stats { totalImages classes { value count } models { name images } } }", {}),
    }


def measure(client: httpx.Client, query: str, variables: dict, warmup: int, repeats: int,
            files: dict | None = None) -> list[float]:
    def send() -> None:
        if files:
            ops = json.dumps({"query": query, "variables": {**variables, "img": None}})
            r = client.post("/graphql", data={"operations": ops, "map": '{"0": ["variables.img"]}'}, files=files,
                            headers={"GraphQL-Require-Preflight": "1"})
        else:
            r = client.post("/graphql", json={"query": query, "variables": variables})
        body = r.json()
        if body.get("errors"):
            raise SystemExit(f"query failed: {body['errors'][0]}")

    for _ in range(warmup):
        send()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        send()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--model", default="CLIP", help="Model enum for vector queries (VIT, CLIP, SIGLIP, PHASH).")
    parser.add_argument("--image", type=Path, help="An image file: also measure an upload search.")
    args = parser.parse_args()
    dims = {"VIT": 768, "CLIP": 512, "SIGLIP": 768}
    with httpx.Client(base_url=args.url, timeout=120) as client:
        browse = client.post("/graphql", json={"query": "{ search(first: 20) { edges { node { id } } } }"}).json()
        ids = [e["node"]["id"] for e in browse["data"]["search"]["edges"]]
        if not ids:
            raise SystemExit("the index is empty: ingest something first")
        kinds = queries(ids, args.model, dims.get(args.model, 512))
        results = {name: measure(client, q, v, args.warmup, args.repeats) for name, (q, v) in kinds.items()}
        if args.image:
            upload = "query($img: Upload!, $m: Model) { search(image: $img, model: $m, first: 20) { edges { node { id } } } }"
            files = {"0": (args.image.name, args.image.read_bytes(), "image/jpeg")}
            results["upload"] = measure(client, upload, {"m": args.model}, args.warmup, args.repeats, files)
    report = {name: _summary(times) for name, times in results.items()}
    print(f"{'query kind':<20} {'median ms':>10} {'p95 ms':>10}")
    for name, row in report.items():
        print(f"{name:<20} {row['median_ms']:>10.1f} {row['p95_ms']:>10.1f}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"api_latency-{stamp}.json"
    out.write_text(json.dumps({"url": args.url, "repeats": args.repeats, "model": args.model,
                               "machine": platform.platform(), "kinds": report}, indent=2))
    print(f"wrote {out}")


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2), "n": len(ordered)}


if __name__ == "__main__":
    main()
