"""OTLP routing speed: caller-side cost of RunHandler records with routing off, routing
on, and the OpenTelemetry SDK's own logging pipeline set up by hand, in one run.

    pip install -e '.[test]'
    python benchmarks/otlp.py [--records 100000] [--repeat 3]

A loopback OTLP/HTTP receiver runs in this (parent) process and decodes every
request with opentelemetry-proto, as a collector would. Each variant runs in a
fresh Python process and logs N records through ``logging.Logger.info``:

  off   RunHandler into a run, no routing
  on    RunHandler into a run, ``route_to_otlp()`` to the receiver (run store and OTLP)
  otel  the SDK's LoggingHandler + BatchLogRecordProcessor + OTLPLogExporter, by hand

Printed per variant: caller microseconds per call (the logging loop alone, best of
``--repeat`` runs), the time until everything was delivered, and how many records
the receiver got. Then the two ratios the issue sets targets for:
on/off <= 1.3, and on/otel <= 1.0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

N_DEFAULT = 100_000


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts = {"logs": 0, "metrics": 0, "requests": 0}
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        records = 0
        if self.path == "/v1/logs":
            request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
            records = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
        with self.lock:
            self.counts["requests"] += 1
            if self.path == "/v1/logs":
                self.counts["logs"] += records
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _child(variant: str, n: int, url: str, folder: str) -> dict:
    import logging

    log = logging.getLogger("bench")
    log.propagate = False
    log.setLevel(logging.INFO)
    if variant == "otel":
        import warnings

        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.resources import Resource

        provider = LoggerProvider(resource=Resource.create({"service.name": "bench"}))
        provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=url + "/v1/logs")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            log.addHandler(LoggingHandler(logger_provider=provider))
        t0 = time.perf_counter()
        caller = _loop(log, n)
        provider.shutdown()
        return {"caller": caller, "total": time.perf_counter() - t0}

    import tracklog
    from tracklog.handlers import RunHandler

    run = tracklog.Experiment(tracklog.Workspace(folder), "bench").start_logging(variant)
    log.addHandler(RunHandler(run))
    if variant == "on":
        from tracklog.exporters import route_to_otlp, stop_routing

        sink = route_to_otlp(endpoint=url, protocol="http/protobuf")
    t0 = time.perf_counter()
    caller = _loop(log, n)
    out = {"caller": caller}
    if variant == "on":
        stop_routing(timeout=120)
        out.update(exported=sink.exported, dropped=sink.dropped)
    run.complete()
    out["total"] = time.perf_counter() - t0
    out["stored"] = len(run.get_logs())
    return out


def _loop(log, n: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for i in range(n):
        log.info("step %d done", i)
    return time.perf_counter() - t0


def _run_variant(variant: str, n: int, url: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        code = (
            "import json, sys; sys.path.insert(0, %r); import otlp; "
            "print(json.dumps(otlp._child(%r, %d, %r, %r)))" % (sys.path[0], variant, n, url, folder)
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=N_DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.records

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    results: dict[str, dict] = {}
    for _ in range(args.repeat):
        for variant in ("off", "on", "otel"):
            before = _Receiver.counts["logs"]
            result = _run_variant(variant, n, url)
            result["received"] = _Receiver.counts["logs"] - before
            best = results.get(variant)
            if best is None or result["caller"] < best["caller"]:
                results[variant] = result
    server.shutdown()

    print(f"{n:,} RunHandler records per variant, best caller time of {args.repeat}; receiver on loopback")
    print(f"{'variant':<8}{'caller us/call':>16}{'until delivered s':>20}{'received':>12}  notes")
    notes = {
        "off": "RunHandler -> run store",
        "on": "RunHandler -> run store + OTLP (route_to_otlp)",
        "otel": "SDK LoggingHandler + BatchLogRecordProcessor + OTLPLogExporter",
    }
    for variant in ("off", "on", "otel"):
        r = results[variant]
        extra = ""
        if variant == "on":
            extra = f"; exported {r['exported']:,}, dropped {r['dropped']:,}, stored {r['stored']:,}"
        elif variant == "off":
            extra = f"; stored {r['stored']:,}"
        print(
            f"{variant:<8}{r['caller'] / n * 1e6:>16.2f}{r['total']:>20.2f}{r['received']:>12,}  "
            f"{notes[variant]}{extra}"
        )
    on, off, otel = (results[v]["caller"] for v in ("on", "off", "otel"))
    print(f"routing on / off   : {on / off:.2f}x  (target <= 1.3)")
    print(f"routing on / otel  : {on / otel:.2f}x  (target <= 1.0: tracklog's whole pipeline vs the bare OTel one)")


if __name__ == "__main__":
    main()
