"""Settings for the ingest benchmark's server: development settings plus the bare floor endpoint's URL."""

from peerpower.settings.development import *  # noqa: F403

ROOT_URLCONF = "benchmarks.ingest_urls"

# No phones are online here, so admission control would refuse once the backlog passes its floor; the check still
# runs on every request (its cost is part of ingest), it just never refuses.
ADMISSION_MIN_BACKLOG = 10**9
