"""``otel-bridge spool status|drain``: inspect and re-send an exporter's on-disk spool."""

from __future__ import annotations

from typing import Any, TextIO

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions, describe
from otel_bridge.exporters.elasticsearch.pipeline import spool_directory
from otel_bridge.exporters.elasticsearch.spool import Spool


def spool_command(options: ElasticsearchOptions, name: str, action: str, out: TextIO, *, client: Any = None) -> int:
    """Runs ``status`` or ``drain`` for exporter ``name``; returns the process exit code.

    ``status`` prints what the spool holds (0). ``drain`` re-sends it: 0 when the spool is empty
    afterwards, 1 when records are left (backend still unreachable), 2 for a usage problem.
    """
    directory = spool_directory(options, name)
    if directory is None or options.spool is None:
        out.write(f"{name}: no spool configured (set exporters.{name}.spool.directory)\n")
        return 2
    if action == "status":
        status = Spool(directory, options.spool.max_bytes).status()
        out.write(
            f"{name}: {status.records} records, {status.bytes} bytes in {status.segments} segments "
            f"({status.directory}, limit {options.spool.max_bytes} bytes)\n"
        )
        return 0
    if action != "drain":
        out.write(f"unknown spool action {action!r}: expected status or drain\n")
        return 2
    from otel_bridge.exporters.elasticsearch.pipeline import Pipeline

    stats = ExporterStats(name, "elasticsearch", describe(options))
    pipeline = Pipeline(options, stats, name, client=client)
    assert pipeline.spool is not None
    before = pipeline.spool.status().records
    resolved, left = pipeline.replay()
    dropped = stats.dropped()
    out.write(
        f"{name}: drained {resolved} of {before} records to {describe(options)}: "
        f"{stats.count('sent')} delivered ({pipeline.sender.already_delivered} of them already there), "
        f"{pipeline.sender.dead_lettered} refused"
        f"{' (in ' + str(options.dead_letter) + ')' if options.dead_letter and pipeline.sender.dead_lettered else ''}, "
        f"{left} left" + (f", dropped {dropped}" if dropped else "") + "\n"
    )
    return 0 if left == 0 else 1


def check_command(options: ElasticsearchOptions, name: str, out: TextIO, *, client: Any = None) -> int:
    """For ``otel-bridge check``: reaches the cluster (``GET /``) and reports its version; 0 when usable.

    Never prints a secret; never raises.
    """
    from otel_bridge._internal.redact import redact_url
    from otel_bridge.exporters.elasticsearch.bulk import make_client, quiet

    target = describe(options)
    try:
        client = quiet((client or make_client(options)).options(request_timeout=options.request_timeout))
        info = client.info().body
    except Exception as exc:
        reason = str(getattr(exc, "message", None) or type(exc).__name__)
        hint = " (an Elasticsearch 8 server refuses the 9.x client's headers)" if "media" in reason.lower() else ""
        out.write(f"{name}: cannot reach Elasticsearch at {target}: {redact_url(reason)[:200]}{hint}\n")
        return 1
    version = str(info.get("version", {}).get("number", "?"))
    major = version.split(".", 1)[0]
    if major != "9":
        out.write(f"{name}: {target} is Elasticsearch {version}; this client (9.x) needs a 9.x server\n")
        return 1
    out.write(f"{name}: OK, Elasticsearch {version} (cluster {info.get('cluster_name', '?')}) at {target}\n")
    return 0
