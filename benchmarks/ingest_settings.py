"""Settings for the ingest benchmark's server: development settings plus the bare floor endpoint's URL."""

from peerpower.settings.development import *  # noqa: F403

ROOT_URLCONF = "benchmarks.ingest_urls"
