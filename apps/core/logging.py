"""Log formatting: JSON lines in production, readable lines in development; every line carries its context.

Never log secrets, OTP codes, tokens or message bodies. As a second line of defence, extra fields whose names
look secret are masked before they are written.
"""

import json
import logging
from datetime import UTC, datetime

from apps.core.context import request_id_var, task_id_var

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_SECRET_PARTS = ("password", "secret", "token", "otp", "authorization", "api_key", "signature")
_SECRET_NAMES = {"code", "body", "message_body", "key"}


class ContextFilter(logging.Filter):
    """Adds the current request id and task id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        record.task_id = getattr(record, "task_id", None) or task_id_var.get()
        return True


def _extras(record: logging.LogRecord) -> dict:
    fields = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key in ("request_id", "task_id"):
            continue
        lowered = key.lower()
        if lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS):
            value = "[redacted]"
        fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "task_id": getattr(record, "task_id", None),
            **_extras(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = getattr(record, "request_id", None) or getattr(record, "task_id", None) or "-"
        extras = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        text = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} [{context}] {record.name}: "
        text += record.getMessage() + (f" {extras}" if extras else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text
