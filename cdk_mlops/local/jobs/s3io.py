"""Copies between the local (moto) S3 and a job's workspace, with SageMaker's ``S3Prefix`` semantics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["download_prefix", "parse_s3_uri", "read_object", "upload_dir", "upload_file"]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``; raises ValueError naming the value otherwise."""
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise ValueError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def download_prefix(s3: Any, uri: str, destination: Path) -> list[Path]:
    """Every object whose key starts with the URI's key (``S3Prefix``), saved under ``destination`` at
    its key relative to the prefix (an object whose key is the prefix itself keeps its file name).
    Returns the files written; raises ValueError when nothing matches, as SageMaker fails such a job
    ("No S3 objects found under S3 URL")."""
    bucket, prefix = parse_s3_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue  # a "folder" marker
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            written.append(target)
    if not written:
        raise ValueError(f'No S3 objects found under S3 URL "{uri}"')
    return written


def read_object(s3: Any, uri: str) -> bytes:
    """The bytes of the object at ``uri``."""
    bucket, key = parse_s3_uri(uri)
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def upload_file(s3: Any, path: Path, uri: str) -> None:
    """Stores ``path`` at ``uri``."""
    bucket, key = parse_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def upload_dir(s3: Any, source: Path, uri: str) -> list[str]:
    """Every file under ``source`` stored at ``uri`` + its relative path; returns the keys written."""
    bucket, prefix = parse_s3_uri(uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    keys: list[str] = []
    for path in sorted(source.rglob("*")):
        if path.is_file():
            key = prefix + path.relative_to(source).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
    return keys
