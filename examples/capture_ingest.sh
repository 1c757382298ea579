#!/bin/sh
# Read a container's log stream into a run.
#
# With Docker or Kubernetes it is one line:
#     docker logs -f -t CONTAINER 2>&1 | tracklog ingest --experiment containers --name CONTAINER -
#     kubectl logs --timestamps POD > pod.log && tracklog ingest --experiment containers pod.log
#
# This script fakes such a stream (RFC 3339 timestamps first, as `docker logs -t`
# prints them) so you can try it without Docker (TRACKLOG_CLI="python -m tracklog" to
# use a checkout):
#     sh examples/capture_ingest.sh
set -e
TRACKLOG_CLI="${TRACKLOG_CLI:-tracklog}"
{
    echo "2026-11-24T00:14:28.000000000Z container starting"
    echo '2026-11-24T00:14:29.000000000Z {"metric": "loss", "value": 0.52, "step": 1}'
    echo '2026-11-24T00:14:30.000000000Z {"metric": "loss", "value": 0.31, "step": 2}'
    echo '2026-11-24T00:14:31.000000000Z {"tags": {"image": "trainer:1.4"}}'
    echo "2026-11-24T00:14:32.000000000Z container done"
} | $TRACKLOG_CLI ingest --experiment containers --name fake-container -
