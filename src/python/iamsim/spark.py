"""Replay beyond one machine: CloudTrail logs read by Spark, replayed on its
executors, one report on the driver equal to ``iamsim replay``'s.

Spark lists and reads the log files (local folders, HDFS, or the S3 layout
``s3://bucket/AWSLogs/...``; ``.json``, ``.json.gz``, JSON Lines) as
``binaryFile`` rows. Each partition goes through ``mapInArrow``: the
executor's Python worker builds its replayer once from the broadcast inputs
(authorization details, policies as JSON text), replays each file's bytes,
and answers with one partial report (JSON). The driver merges the partials
into the report (the fields of ``iamsim replay --report``).

    from pyspark.sql import SparkSession
    import iamsim.spark

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    report = iamsim.spark.replay(
        spark,
        ["s3a://my-trail-bucket/AWSLogs/111122223333/CloudTrail/"],
        authorization_details=["authorization-details.json"],
    )
    print(report["breakage"])

or with ``spark-submit`` (README, "Spark").
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Mapping, Optional, Sequence, Union

from . import _iamsim

PathLike = Union[str, "os.PathLike[str]"]
PolicyInput = Union[_iamsim.Policy, Sequence[_iamsim.Policy]]

# One replayer per Python worker process, for the replay running (a worker
# runs many tasks; a key drawn per replay tells their inputs apart).
_WORKERS: dict = {}


def _policy_text(p: _iamsim.Policy) -> tuple:
    return (p.name, p.kind, p.to_json())


def _texts(given: Optional[Mapping[str, PolicyInput]]) -> dict:
    out = {}
    for arn, value in (given or {}).items():
        policies = [value] if isinstance(value, _iamsim.Policy) else list(value)
        out[arn] = [_policy_text(p) for p in policies]
    return out


def _policies(texts: Sequence[tuple]) -> list:
    return [_iamsim.parse_policy(doc, name=name, kind=kind) for name, kind, doc in texts]


def _worker(inputs: dict, decisions: bool = False) -> _iamsim.ReplayWorker:
    """The replayer the inputs describe (built from their JSON texts)."""
    catalog = _iamsim.Catalog.load(inputs["catalog"]) if inputs["catalog"] else None
    worker = _iamsim.ReplayWorker(
        authorization_details=inputs["authorization_details"],
        policies={arn: _policies(t) for arn, t in inputs["policies"].items()},
        overrides={arn: _policies(t) for arn, t in inputs["overrides"].items()},
        scps=[_policies(level) for level in inputs["scps"]],
        resource_policies={arn: _policies([t])[0] for arn, t in inputs["resource_policies"].items()},
        catalog=catalog,
        decisions=decisions,
    )
    if "session_tags" in inputs:
        worker.set_session_tags(inputs["session_tags"])
    return worker


def _log_files(batch):
    """The log files of a ``binaryFile`` batch, as (name, bytes): only the
    names ``iamsim replay`` reads in a folder."""
    contents = batch.column("content")
    for i, path in enumerate(batch.column("path").to_pylist()):
        name = _local_name(path)
        if _iamsim.is_log_file_name(os.path.basename(name)):
            yield name, contents[i].as_py()


def _session_tags_partition(batches):
    """The session tags of each log file of a partition (JSON texts)."""
    import pyarrow as pa

    for batch in batches:
        texts = [_iamsim.session_tags(name, content) for name, content in _log_files(batch)]
        if texts:
            yield pa.RecordBatch.from_pydict({"text": texts})


def _local_name(path: str) -> str:
    """A file's name as ``iamsim replay`` would print it: local files without
    the ``file:`` scheme Spark adds; other schemes (``s3a://``) as they are."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if path.startswith("file:"):
        return path[len("file:"):]
    return path


def replay(
    spark: Any,
    cloudtrail: Sequence[str],
    authorization_details: Sequence[Union[PathLike, bytes]] = (),
    policies: Optional[Mapping[str, PolicyInput]] = None,
    overrides: Optional[Mapping[str, PolicyInput]] = None,
    scps: Sequence[Sequence[_iamsim.Policy]] = (),
    resource_policies: Optional[Mapping[str, _iamsim.Policy]] = None,
    catalog: Optional[PathLike] = None,
    decisions: Optional[str] = None,
) -> dict:
    """Replay CloudTrail logs on a Spark cluster; the report as a dict with
    the fields of ``iamsim replay --report``.

    ``cloudtrail``: paths Spark can read (folders are read recursively; only
    ``*.json``, ``*.json.gz``, ``*.jsonl``, ``*.jsonl.gz`` and ``*.ndjson``
    files are logs, as ``iamsim replay`` walks folders). The other inputs are
    those of :func:`iamsim.replay`; ``catalog`` is a path every executor can
    read. ``decisions``: a folder to write every decided check to as Parquet
    (the fields of ``iamsim replay --out``), for Athena or Spark SQL.
    """
    details = []
    for d in authorization_details:
        if isinstance(d, bytes):
            details.append(d)
        else:
            with open(d, "rb") as f:
                details.append(f.read())
    inputs = {
        "authorization_details": details,
        "policies": _texts(policies),
        "overrides": _texts(overrides),
        "scps": [[_policy_text(p) for p in level] for level in scps],
        "resource_policies": {arn: _policy_text(p) for arn, p in (resource_policies or {}).items()},
        "catalog": os.fspath(catalog) if catalog is not None else None,
    }
    # Built on the driver first: bad inputs fail here, named, before any task.
    driver = _worker(inputs)
    started = time.perf_counter()
    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(list(cloudtrail))
        .select("path", "content")
    )
    if driver.tests_principal_tags:
        # As `iamsim replay` does: a first pass over the logs for the role
        # sessions their AssumeRole calls created (and those sessions' tags),
        # merged on the workers before they replay.
        inputs["session_tags"] = [r["text"] for r in files.mapInArrow(_session_tags_partition, "text string").collect()]
    shared = spark.sparkContext.broadcast(inputs)
    key = uuid.uuid4().hex  # names this replay's inputs in the workers' cache

    want = decisions is not None

    def replay_partition(batches):
        import pyarrow as pa

        worker = _WORKERS.get((key, want))
        if worker is None:
            # Earlier replays' workers are done with: only this one is kept.
            _WORKERS.clear()
            worker = _WORKERS[(key, want)] = _worker(shared.value, want)
        else:
            # What an attempt that failed part-way replayed is not this
            # partition's: dropped (the compiled policies stay).
            worker.take_partial()
        for batch in batches:
            decided = []
            for name, content in _log_files(batch):
                decided.extend(worker.replay_bytes(name, content))
            if decided:
                yield pa.RecordBatch.from_pydict({"kind": ["decision"] * len(decided), "text": decided})
        yield pa.RecordBatch.from_pydict({"kind": ["partial"], "text": [worker.take_partial()]})

    out = files.mapInArrow(replay_partition, "kind string, text string")
    if want:
        out = out.cache()
        lines = out.filter(out.kind == "decision").select("text").rdd.map(lambda r: r[0])
        if not lines.isEmpty():
            spark.read.json(lines).write.mode("overwrite").parquet(decisions)
    partials = [r["text"] for r in out.filter(out.kind == "partial").collect()]
    if want:
        out.unpersist()
    shared.unpersist()
    return driver.finish(partials, time.perf_counter() - started)
