"""upload-s3: the 200 MiB upload (app vs plain fetch) with the server's bytes in an S3 bucket (moto_server).

Why beside moto's own rate: moto is a Python stand-in for S3 that keeps every
part in its own process, on the same two cores as the server, the browser and
the bench. Sending the same bytes straight to it with boto3, in the same 8 MiB
parts the server uses, then copying the assembled object to its content name
(what a completed upload costs), shows how much of the figure is moto's: if
the server's plain-fetch time is close to that, the server adds little and the
ratio app/fetch is what the page costs on top, as with the --data folder.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import load_processes  # bench/load_processes.py
import upload  # bench/upload.py

from server.blobs.s3_parts import PART_SIZE

MIB = 1024 * 1024


def moto_alone(client: Any, bucket: str, size_mib: int) -> dict[str, float]:
    """boto3 straight to moto: sequential 8 MiB parts, complete, copy to a second key (as a completion does)."""
    data = os.urandom(size_mib * MIB)
    t0 = time.perf_counter()
    mpu = client.create_multipart_upload(Bucket=bucket, Key="raw")["UploadId"]
    parts: list[dict] = []
    for i in range(0, len(data), PART_SIZE):
        etag = client.upload_part(Bucket=bucket, Key="raw", UploadId=mpu, PartNumber=len(parts) + 1,
                                  Body=data[i:i + PART_SIZE])["ETag"]
        parts.append({"PartNumber": len(parts) + 1, "ETag": etag})
    client.complete_multipart_upload(Bucket=bucket, Key="raw", UploadId=mpu, MultipartUpload={"Parts": parts})
    t1 = time.perf_counter()
    client.copy_object(Bucket=bucket, Key="raw-copy", CopySource={"Bucket": bucket, "Key": "raw"})
    t2 = time.perf_counter()
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "raw"}, {"Key": "raw-copy"}]})
    return {"parts_s": t1 - t0, "copy_s": t2 - t1, "total_s": t2 - t0, "parts_mib_s": size_mib / (t1 - t0)}


def run(bench: Any, size_mib: int) -> None:
    """A bucket comes with the rest of the shared services (a config with [storage] alone is refused):
    PostgreSQL and Redis too, as in a deployment, started as bench/load.py starts them
    (bench/load_processes.py)."""
    with contextlib.ExitStack() as stack:
        shared, moto, _pids = load_processes.shared_services(Path(bench.workdir), stack, "upload_s3")
        _run(bench, size_mib, moto, shared)


def _run(bench: Any, size_mib: int, moto: Any, shared: str) -> None:
    client = moto.client()
    client.create_bucket(Bucket="attache-bench")
    alone = [moto_alone(client, "attache-bench", size_mib) for _ in range(2)]
    best = min(alone, key=lambda r: r["total_s"])
    config = upload.UPLOAD_CONFIG + "\n" + shared
    upload.bench_upload(bench, size_mib, config, "upload_s3")
    result = bench.results["upload_s3"]
    upload.print_table(
        f"where the S3 upload's time goes: moto alone (boto3, no Attache; best of {len(alone)})",
        ["", "seconds", "MiB/s"],
        [[f"{size_mib} MiB in {PART_SIZE // MIB} MiB parts, one at a time", f"{best['parts_s']:.2f}",
          f"{best['parts_mib_s']:.0f}"],
         ["copy to media/<sha256> (server-side copy)", f"{best['copy_s']:.2f}", ""],
         ["moto alone, total", f"{best['total_s']:.2f}", f"{size_mib / best['total_s']:.0f}"],
         ["server, plain fetch (POST + one PATCH)", f"{result['fetch_s']:.2f}", f"{result['fetch_mib_s']:.0f}"],
         ["server, app (tus chunks)", f"{result['app_s']:.2f}", f"{result['app_mib_s']:.0f}"],
         ["moto alone / plain fetch (1.0: moto is all of it)", f"{best['total_s'] / result['fetch_s']:.2f}", ""]])
    result["moto_alone"] = alone
    bench.summary.append([f"upload_s3: moto alone {size_mib} MiB", f"{best['total_s']:.2f} s (parts + copy)",
                          f"server plain fetch {result['fetch_s']:.2f} s",
                          f"{best['total_s'] / result['fetch_s']:.2f}", "—"])
