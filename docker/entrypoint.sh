#!/bin/sh
# Container entrypoint: wait for the database, cache and broker, then run the given command.
set -eu
python manage.py wait_for_services --timeout "${WAIT_FOR_SERVICES_TIMEOUT:-90}"
# The metrics folder may be shared with other containers whose processes are running: it is emptied by whoever
# starts the whole stack (compose's migrate step), never here.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec "$@"
