"""Incentives' tables: per-segment prices (`prices`)."""

from apps.incentives.models.prices import Price

__all__ = ["Price"]
