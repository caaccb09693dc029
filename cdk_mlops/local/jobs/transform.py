"""``CreateTransformJob`` run locally: the job's model served by a :class:`~.serving.ModelServer`.

Following SageMaker's batch transform (docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html and
``CreateTransformJob`` in the API reference): every object under ``TransformInput``'s ``S3Prefix`` is
one input file; ``SplitType`` ``Line`` splits it into records (``None`` keeps the file as one record);
``BatchStrategy`` ``MultiRecord`` sends as many records per request as fit in ``MaxPayloadInMB``
(``SingleRecord`` one each); the answers for ``<key>`` are written to
``<TransformOutput.S3OutputPath>/<key relative to the prefix>.out``, one after the other (``AssembleWith``
``Line`` ends each with a newline). ``SAGEMAKER_BATCH=true`` is set for the container, as SageMaker does.
A request the model fails on fails the job, naming the input file and the model's error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cdk_mlops.local.jobs import s3io
from cdk_mlops.local.jobs.dispatch import JobResult
from cdk_mlops.local.jobs.serving import ModelServer, container_of_model
from cdk_mlops.local.scenario import JobOutcome, ModelInvocationError

if TYPE_CHECKING:
    from cdk_mlops.local.jobs.runner import LocalJobRunner

__all__ = ["requests_of", "run"]


def requests_of(data: bytes, *, split_type: str, batch_strategy: str, max_payload_bytes: int) -> Iterator[bytes]:
    """The request bodies for one input file."""
    if split_type == "None":
        yield data
        return
    if split_type != "Line":
        raise ValueError(f"TransformInput.SplitType {split_type!r}: only Line and None run locally")
    records = [line for line in data.splitlines() if line.strip()]
    if batch_strategy == "SingleRecord":
        yield from records
        return
    batch: list[bytes] = []
    size = 0
    for record in records:
        if batch and size + len(record) + 1 > max_payload_bytes:
            yield b"\n".join(batch)
            batch, size = [], 0
        batch.append(record)
        size += len(record) + 1
    if batch:
        yield b"\n".join(batch)


def run(runner: LocalJobRunner, name: str, request: Mapping[str, Any]) -> JobResult:
    """Runs transform job ``name`` from its ``CreateTransformJob`` request."""
    job_input = request.get("TransformInput") or {}
    output = request.get("TransformOutput") or {}
    source = str(((job_input.get("DataSource") or {}).get("S3DataSource") or {})["S3Uri"])
    container = container_of_model(runner.client("sagemaker"), str(request["ModelName"]))
    environment = {**dict(container.get("Environment") or {}), **dict(request.get("Environment") or {})}
    container = {**container, "Environment": environment}
    s3 = runner.client("s3")
    bucket, prefix = s3io.parse_s3_uri(source)
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]
    if not keys:
        return JobResult(JobOutcome.failed(f'ClientError: No S3 objects found under S3 URL "{source}"'), None)
    content_type = job_input.get("ContentType")
    accept = output.get("Accept")
    assemble_line = output.get("AssembleWith", "None") == "Line"
    output_path = str(output["S3OutputPath"]).rstrip("/")
    server = ModelServer.start(runner, name, container, extra_environment={"SAGEMAKER_BATCH": "true"})
    try:
        for key in keys:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            answers: list[bytes] = []
            for body in requests_of(
                data,
                split_type=str(job_input.get("SplitType", "None")),
                batch_strategy=str(request.get("BatchStrategy", "MultiRecord")),
                max_payload_bytes=int(request.get("MaxPayloadInMB", 6)) * 1024 * 1024,
            ):
                try:
                    answer, _ = server.invoke(body, content_type, accept)
                except ModelInvocationError as error:
                    return JobResult(
                        JobOutcome.failed(
                            f"ClientError: {key}: the model failed on a request "
                            f"(status {error.status_code}): {error.message}"[:1024]
                        ),
                        server.log_path,
                    )
                answers.append(answer.rstrip(b"\n") + b"\n" if assemble_line else answer)
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            bucket_out, key_out = s3io.parse_s3_uri(f"{output_path}/{relative}.out")
            s3.put_object(Bucket=bucket_out, Key=key_out, Body=b"".join(answers))
    finally:
        server.close()
    return JobResult(JobOutcome.completed(), server.log_path)
