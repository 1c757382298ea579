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

OTLP in (``tracklog receive``), end to end: a process logs N records with a metric
attribute (``metric``/``value``/``step``) through the SDK's LoggerProvider and
BatchLogRecordProcessor, into

  inproc  RunLogExporter: the records become run data in the same process
  http    OTLPLogExporter (HTTP/protobuf) -> a ``tracklog receive`` process
  grpc    OTLPLogExporter (gRPC)          -> a ``tracklog receive`` process

timed from the first record until all are stored (the run completed in-process;
the receiver stopped, which flushes, for the other two), best of ``--repeat``.
Target: each receiver variant within 3x of inproc; a plain MISSED line otherwise.
``--only receive`` or ``--only routing`` runs one half.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
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


def _sender(variant: str, n: int, endpoint: str, folder: str) -> dict:
    """Log ``n`` records with a metric attribute through the SDK's log pipeline into ``variant``."""
    from opentelemetry._logs import LogRecord, SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    run = None
    if variant == "inproc":
        import tracklog
        from tracklog.exporters import RunLogExporter

        run = tracklog.Experiment(tracklog.Workspace(folder), "bench").start_logging("inproc")
        exporter = RunLogExporter(run)
    elif variant == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=endpoint + "/v1/logs", timeout=120)
    else:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=endpoint, insecure=True, timeout=120)
    provider = LoggerProvider(resource=Resource.create({"service.name": "bench", "tracklog.experiment": "bench"}))
    # A queue that holds every record: the SDK's default (2048) drops what a burst brings.
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_queue_size=n + 1))
    logger = provider.get_logger("bench")
    start = time.time()
    for i in range(n):
        logger.emit(LogRecord(
            timestamp=time.time_ns(), body="step done", severity_number=SeverityNumber.INFO,
            attributes={"metric": "loss", "value": 1.0 / (i + 1), "step": i},
        ))
    caller = time.time() - start
    provider.shutdown()
    out = {"start": start, "caller": caller}
    if run is not None:
        run.complete()
        out["stored"] = len(run.get_metric_history("loss"))
    out["end"] = time.time()
    return out


def _run_receive_variant(variant: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        receiver = None
        endpoint = ""
        if variant != "inproc":
            receiver = subprocess.Popen(
                [sys.executable, "-m", "tracklog", "receive", "-w", folder, "--http-port", "0", "--grpc-port", "0"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            line = receiver.stdout.readline()  # type: ignore[union-attr]
            found = re.search(r"OTLP/HTTP at (\S+), OTLP/gRPC at (\S+) ", line)
            if found is None:
                raise SystemExit(f"tracklog receive did not start: {line!r}")
            endpoint = found[1] if variant == "http" else found[2]
        code = (
            "import json, sys; sys.path.insert(0, %r); import otlp; "
            "print(json.dumps(otlp._sender(%r, %d, %r, %r)))" % (sys.path[0], variant, n, endpoint, folder)
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if receiver is not None:
            receiver.send_signal(signal.SIGTERM)
            receiver.communicate(timeout=600)
            result["end"] = time.time()
            import tracklog

            (run,) = tracklog.Workspace(folder, create=False).get_experiment("bench").get_runs()
            result["stored"] = len(run.get_metric_history("loss"))
            result["retried"] = ""
        result["total"] = result["end"] - result["start"]
        return result


def _receive_main(n: int, repeat: int) -> None:
    results: dict[str, dict] = {}
    for _ in range(repeat):
        for variant in ("inproc", "http", "grpc"):
            result = _run_receive_variant(variant, n)
            best = results.get(variant)
            if best is None or result["total"] < best["total"]:
                results[variant] = result
    print(f"\nOTLP in: {n:,} SDK log records with a metric attribute, first record until stored, "
          f"best of {repeat}")
    print(f"{'variant':<8}{'until stored s':>16}{'records/s':>12}{'stored':>10}  notes")
    notes = {
        "inproc": "SDK LoggerProvider -> RunLogExporter, in-process",
        "http": "SDK OTLPLogExporter (HTTP/protobuf) -> tracklog receive",
        "grpc": "SDK OTLPLogExporter (gRPC) -> tracklog receive",
    }
    for variant, r in results.items():
        print(f"{variant:<8}{r['total']:>16.2f}{n / r['total']:>12,.0f}{r['stored']:>10,}  {notes[variant]}")
    base = results["inproc"]["total"]
    for variant in ("http", "grpc"):
        ratio = results[variant]["total"] / base
        print(f"receive {variant} / inproc : {ratio:.2f}x  (target <= 3.0)")
        if ratio > 3.0:
            print(f"MISSED: receive {variant} is {ratio:.2f}x in-process (target 3x)")
        if results[variant]["stored"] != n:
            print(f"MISSED: receive {variant} stored {results[variant]['stored']:,} of {n:,} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=N_DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("routing", "receive"), default=None)
    args = parser.parse_args()
    n = args.records
    if args.only != "routing":
        _receive_main(n, args.repeat)
    if args.only == "receive":
        return

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
