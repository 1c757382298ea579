"""Route a run to an OTLP collector as well as to the workspace, with one call.

    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 python examples/otel_route_to_collector.py

``route_to_otlp()`` reads the standard ``OTEL_EXPORTER_OTLP_*`` variables
(endpoint, protocol, headers, timeout) and ``OTEL_SERVICE_NAME``; arguments win
over them. From then on metrics, log records, captured output and tags of every
run also go out as OTel logs (metric points with event name ``tracklog.metric``)
and as one gauge per metric name. With no code change at all, ``TRACKLOG_OTLP=1``
(or ``tracklog run --otlp``) does the same. A collector that is down costs you
nothing but the export: the run is complete, the drops are counted in
``tracklog.otlp.dropped``.
"""

from __future__ import annotations

import logging

import tracklog
from tracklog.exporters import route_to_otlp, stop_routing
from tracklog.handlers import RunHandler

route = route_to_otlp()
logging.basicConfig(level=logging.INFO, handlers=[RunHandler(), logging.StreamHandler()])
log = logging.getLogger("train")

tracklog.set_experiment("otlp-demo")
with tracklog.start_run() as run:
    tracklog.set_tag("model", "mlp")
    for epoch in range(3):
        tracklog.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
        log.info("epoch %d done", epoch)

stop_routing()  # also done at exit, waiting at most TRACKLOG_OTLP_SHUTDOWN_TIMEOUT seconds
print("run", run.id, "exported", route.exported, "dropped", route.dropped)
