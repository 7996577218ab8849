"""Runs one loopback test server in its own process for the benchmarks (so it does not share our GIL).

python benchmarks/_servers.py es|sentry|otlp   → prints the URL or DSN, serves until stdin closes
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(kind: str) -> None:
    if kind == "es":
        from tests.servers.es_standin import ESStandIn

        es = ESStandIn().start()
        print(es.url, flush=True)
    elif kind == "sentry":
        from tests.servers.sentry_receiver import SentryReceiver

        receiver = SentryReceiver()
        receiver.start()
        print(receiver.dsn(), flush=True)
    else:
        import threading

        from tests.servers.otlp_receiver import OtlpReceiver

        otlp = OtlpReceiver()
        threading.Thread(target=otlp.server.serve_forever, daemon=True).start()
        print(otlp.url, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main(sys.argv[1])
