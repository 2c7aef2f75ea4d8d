"""Embedding throughput per model on this machine: images/s at several batch sizes, FLOPs per
image and achieved GFLOP/s, bf16 autocast against fp32 (speed and cosine), and the
end-to-end latency of one uploaded JPEG through SigLIP. Writes JSON and prints a table.

    python bench/embed.py --weights random                # CPU here; no hub weights needed
    python bench/embed.py --weights pretrained --device cuda
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import numpy as np

IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images"


@dataclass
class BatchResult:
    batch_size: int
    preprocess_s: float  # PIL → input tensor for the whole batch
    forward_s: float  # median model time for the batch (incl. host↔device copies)
    images_per_s: float  # end to end: preprocessing + forward
    forward_images_per_s: float
    gflop_per_s: float | None


@dataclass
class ModelResult:
    name: str
    version: str
    device: str
    build_s: float
    gflop_per_image: float | None
    batches: list[BatchResult] = field(default_factory=list)
    bf16: dict | None = None


def load_images(count: int) -> list:
    from PIL import Image

    paths = sorted(IMAGES.glob("chr24-nln/*.jpg")) + sorted(IMAGES.glob("nls-chapbooks/*.jpg"))
    if len(paths) < count:
        raise click.ClickException(f"need {count} images under {IMAGES}, found {len(paths)}")
    return [Image.open(p).convert("RGB") for p in paths[:count]]


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitive caches, cuDNN autotuning
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def count_flops(embedder, image) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    # Counted with autograd on: under inference mode nn.MultiheadAttention takes a fused fast
    # path whose projections the counter does not see (CLIP would lose a third of its FLOPs).
    batch = embedder.preprocess_images([image]).to(embedder.device)
    with FlopCounterMode(display=False) as counter:
        embedder._encode_images(batch)
    return counter.get_total_flops()


def bench_network(embedder, images, batch_sizes, repeats, bf16_batch) -> ModelResult:
    flops = count_flops(embedder, images[0])
    result = ModelResult(embedder.name, embedder.version, embedder.device, 0.0, flops / 1e9)
    for size in batch_sizes:
        chunk = images[:size]
        started = time.perf_counter()
        batch = embedder.preprocess_images(chunk)
        pre_s = time.perf_counter() - started
        fwd_s = median_time(lambda: embedder.encode_image_batch(batch), repeats)
        result.batches.append(BatchResult(
            size, pre_s, fwd_s, size / (pre_s + fwd_s), size / fwd_s, flops * size / fwd_s / 1e9,
        ))
    if bf16_batch:
        batch = embedder.preprocess_images(images[:bf16_batch])
        fp32 = embedder.encode_image_batch(batch)
        fp32_s = median_time(lambda: embedder.encode_image_batch(batch), repeats)
        embedder.precision = "bf16"
        try:
            bf16 = embedder.encode_image_batch(batch)
            bf16_s = median_time(lambda: embedder.encode_image_batch(batch), repeats)
        finally:
            embedder.precision = "fp32"
        cosine = np.sum(fp32 * bf16, axis=1)
        result.bf16 = {
            "batch_size": bf16_batch,
            "fp32_s": fp32_s,
            "bf16_s": bf16_s,
            "speedup": fp32_s / bf16_s,
            "cosine_mean": float(cosine.mean()),
            "cosine_min": float(cosine.min()),
        }
    return result


def bench_phash(embedder, images, batch_sizes, repeats) -> ModelResult:
    result = ModelResult(embedder.name, embedder.version, "cpu", 0.0, None)
    for size in batch_sizes:
        seconds = median_time(lambda: embedder.embed_images(images[:size]), repeats)
        result.batches.append(BatchResult(size, seconds, 0.0, size / seconds, size / seconds, None))
    return result


def upload_latency(embedder, repeats: int) -> dict:
    """One uploaded JPEG: bytes → PIL (decode, EXIF, RGB) → vector, as the upload path does it."""
    from vignett.models import open_image

    path = sorted(IMAGES.glob("chr24-nln/*.jpg"))[0]
    data = path.read_bytes()
    embedder.embed_images([open_image(data)])  # warm-up
    decode, total = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        image = open_image(data)
        decoded = time.perf_counter()
        embedder.embed_images([image])
        done = time.perf_counter()
        decode.append(decoded - started)
        total.append(done - started)
    return {
        "model": embedder.name,
        "file": f"{path.parent.name}/{path.name}",
        "bytes": len(data),
        "decode_ms_median": 1000 * statistics.median(decode),
        "total_ms_median": 1000 * statistics.median(total),
        "total_ms_max": 1000 * max(total),
        "repeats": repeats,
    }


def machine_info(device: str) -> dict:
    import torch

    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "device": device,
        # other work on the machine slows every number here; the load says how much there was
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        info["cpu_model"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def print_table(results: list[ModelResult], latency: dict | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "batch", "img/s (e2e)", "img/s (fwd)", "GFLOP/img", "GFLOP/s", title="embedding throughput")
    for res in results:
        for b in res.batches:
            table.add_row(
                res.name, str(b.batch_size), f"{b.images_per_s:.2f}", f"{b.forward_images_per_s:.2f}",
                f"{res.gflop_per_image:.1f}" if res.gflop_per_image else "-",
                f"{b.gflop_per_s:.1f}" if b.gflop_per_s else "-",
            )
    console = Console(width=140)
    console.print(table)
    bf16 = Table("model", "batch", "fp32 s", "bf16 s", "speedup", "cosine mean", "cosine min", title="bf16 autocast vs fp32")
    for res in results:
        if res.bf16:
            r = res.bf16
            bf16.add_row(res.name, str(r["batch_size"]), f"{r['fp32_s']:.2f}", f"{r['bf16_s']:.2f}",
                         f"{r['speedup']:.2f}×", f"{r['cosine_mean']:.5f}", f"{r['cosine_min']:.5f}")
    if bf16.row_count:
        console.print(bf16)
    if latency:
        console.print(
            f"{latency['model']} one uploaded JPEG ({latency['bytes']} bytes): "
            f"{latency['total_ms_median']:.0f} ms median end to end "
            f"(decode {latency['decode_ms_median']:.1f} ms), max {latency['total_ms_max']:.0f} ms"
        )


@click.command()
@click.option("--weights", type=click.Choice(["pretrained", "random"]), required=True,
              help="pretrained needs the hub files here; random builds the same networks (explicit).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--models", "model_names", default="vit,clip,siglip,phash", show_default=True)
@click.option("--batch-sizes", default="1,8,32", show_default=True)
@click.option("--repeats", default=2, show_default=True, help="Timed runs per batch size (after one warm-up).")
@click.option("--bf16-batch", default=8, show_default=True, help="Batch size for the bf16 comparison; 0 skips it.")
@click.option("--latency-repeats", default=5, show_default=True, help="Uploads timed through siglip; 0 skips.")
@click.option("--threads", default=0, help="torch CPU threads (0: torch's default).")
@click.option("--out", type=click.Path(dir_okay=False), default="results/bench-embed.json", show_default=True)
def main(weights, device, model_names, batch_sizes, repeats, bf16_batch, latency_repeats, threads, out) -> None:
    """Benchmark the embedders and write the numbers as JSON."""
    from vignett.models import create_embedder
    from vignett.models.base import configure_cpu_threads, resolve_device

    configure_cpu_threads(threads)
    device = resolve_device(device)
    sizes = [int(s) for s in batch_sizes.split(",")]
    images = load_images(max(sizes + [bf16_batch]))
    machine = machine_info(device)  # before the runs: the load average is then other work only
    results, latency = [], None
    for name in model_names.split(","):
        started = time.perf_counter()
        embedder = create_embedder(name, weights=weights, device=device)
        build_s = time.perf_counter() - started
        click.echo(f"{name}: built in {build_s:.1f} s ({embedder.version})", err=True)
        if name == "phash":
            res = bench_phash(embedder, images, sizes, repeats)
        else:
            res = bench_network(embedder, images, sizes, repeats, bf16_batch)
            if name == "siglip" and latency_repeats:
                latency = upload_latency(embedder, latency_repeats)
        res.build_s = build_s
        results.append(res)
        del embedder
    report = {
        "machine": machine,
        "weights": weights,
        "models": [asdict(r) for r in results],
        "siglip_upload_latency": latency,
        "notes": "FLOPs from torch.utils.flop_counter (a multiply-add counts 2); "
                 "img/s (e2e) adds PIL preprocessing of the batch to the forward time.",
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2))
    print_table(results, latency)
    click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    main()
