"""The ``otel-bridge`` command: validate, spool, demo. Never a traceback, never a secret."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from otel_bridge.config import BridgeConfig, ConfigError, load_config
from otel_bridge.exporters import registry

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_FAILED = 1
EXIT_INTERNAL = 3


def summary(config: BridgeConfig) -> list[str]:
    """What goes where, one line per signal (no secrets: targets come from each spec's describe)."""
    service = config.service
    name = service.name or "(from OTEL_SERVICE_NAME or unknown_service)"
    extras = ", ".join(filter(None, [service.version, service.environment]))
    lines = [f"service: {name}" + (f" ({extras})" if extras else "")]
    sampler = config.traces.sampler
    ratio = f" ratio={sampler.ratio}" if "ratio" in sampler.type else ""
    signals = (
        ("traces", config.traces.exporters, f"sampler {sampler.type}{ratio}"),
        ("logs", config.logs.exporters, f"level {config.logs.level}"),
        ("metrics", config.metrics.exporters, f"{len(config.metrics.views)} view(s)"),
    )
    for signal, names, note in signals:
        targets = []
        for exporter in names:
            type_name, options = config.resolved[exporter]
            spec = registry.get(type_name)
            described = spec.describe(options) if spec is not None else ""
            label = exporter if exporter == type_name else f"{exporter} [{type_name}]"
            targets.append(f"{label}: {described}" if described else label)
        routed = "; ".join(targets) if targets else "(nowhere)"
        lines.append(f"{signal:<8}-> {routed}   [{note}]")
    unused = [n for n in config.exporters if n not in config.used_exporters()]
    if unused:
        lines.append(f"defined but unused: {', '.join(unused)}")
    return lines


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config)
    print(f"OK: {config.source}", file=out)
    for line in summary(config):
        print(f"  {line}", file=out)
    return EXIT_OK


def cmd_spool(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config)
    from otel_bridge.exporters.elasticsearch.cli import spool_command

    found = False
    status = EXIT_OK
    for name, (type_name, options) in config.resolved.items():
        if type_name != "elasticsearch":
            continue
        found = True
        status = max(status, spool_command(options, name, args.action, out))
    if not found:
        print("no elasticsearch exporter in this configuration; nothing is spooled", file=out)
    return status


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from otel_bridge.check import run_checks

    return run_checks(load_config(args.config), out)


def cmd_collector(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from otel_bridge.collector import render

    out.write(render(load_config(args.config)))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from otel_bridge.demo import run_demo

    return run_demo(out, seconds=args.seconds, out_dir=args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-bridge",
        description="Route OpenTelemetry signals to Sentry, Elasticsearch and Prometheus from one YAML file.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = "YAML file (default: $OTEL_BRIDGE_CONFIG, ./otel-bridge.yaml, the built-in default)"

    validate = sub.add_parser("validate", help="check a configuration and show what goes where")
    validate.add_argument("config", nargs="?", help=config_help)
    validate.set_defaults(run=cmd_validate)

    spool = sub.add_parser("spool", help="inspect or re-send what the Elasticsearch exporter spooled to disk")
    spool.add_argument("action", choices=["status", "drain"])
    spool.add_argument("config", nargs="?", help=config_help)
    spool.set_defaults(run=cmd_spool)

    check = sub.add_parser("check", help="reach each configured backend once and report")
    check.add_argument("config", nargs="?", help=config_help)
    check.set_defaults(run=cmd_check)

    collector = sub.add_parser("collector", help="print an OpenTelemetry Collector config with the same routing")
    collector.add_argument("config", nargs="?", help=config_help)
    collector.set_defaults(run=cmd_collector)

    demo = sub.add_parser("demo", help="run a small instrumented workload on the built-in default")
    demo.add_argument("--seconds", type=float, default=3.0, help="how long the workload runs")
    demo.add_argument("--out", default=None, help="output directory (default ./otel-bridge-out)")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the ``otel-bridge`` console script."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace, TextIO, TextIO], int] = args.run
    try:
        return run(args, out, err)
    except ConfigError as exc:
        print(f"invalid configuration: {exc}", file=err)
        return EXIT_INVALID
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or the output piped into `head`
        return EXIT_FAILED
    except Exception as exc:
        from otel_bridge._internal.redact import redact_text

        print(f"otel-bridge: internal error: {type(exc).__name__}: {redact_text(str(exc))}", file=err)
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
