"""Khmer-aware content filter (anti-spam) for client messages.

Entry point: `check_content(body)` → `FilterDecision(action=allow|hold|reject, score, reasons)`. How the filter
scores is described in `engine.py`, how it is kept current across processes in `runtime.py`.

Khmer word segmentation: dictionary maximal matching (`khmer.py`).
"""

from apps.messaging.filtering.engine import ContentFilter, FilterDecision, Reason
from apps.messaging.filtering.runtime import check_content

__all__ = ["ContentFilter", "FilterDecision", "Reason", "check_content"]
