#!/bin/sh
# Container entrypoint: wait for the database, cache and broker, then run the given command.
set -eu
python manage.py wait_for_services --timeout "${WAIT_FOR_SERVICES_TIMEOUT:-90}"
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"/* 2>/dev/null || true
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec "$@"
