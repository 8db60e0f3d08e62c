# syntax=docker/dockerfile:1
# PeerPower production image: gunicorn serves the web app; the same image runs Celery worker and beat.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements/prod.txt /tmp/prod.txt
RUN /opt/venv/bin/pip install -r /tmp/prod.txt

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=peerpower.settings.production \
    PEERPOWER_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system peerpower && useradd --system --gid peerpower --home-dir /app peerpower
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=peerpower:peerpower . /app
# /app/var/prometheus exists (owned by the app's user) so that a volume mounted there for the shared metrics folder
# starts with that owner. Static files and message catalogues are built into the image. They do not depend on secrets, so the build uses
# the development settings (same static storage) rather than inventing production secrets.
RUN DJANGO_SETTINGS_MODULE=peerpower.settings.development python manage.py collectstatic --no-input -v 0 \
    && DJANGO_SETTINGS_MODULE=peerpower.settings.development python manage.py compilemessages -v 0 \
    && rm -rf /app/var && mkdir -p /app/var/prometheus && chown -R peerpower:peerpower /app/var /app/staticfiles
USER peerpower
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/health', timeout=2)"
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "python:peerpower.gunicorn_config", "peerpower.wsgi"]
