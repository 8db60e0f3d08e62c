"""Settings package: `base` holds everything; `development`, `production` and `test` adjust it per mode."""
