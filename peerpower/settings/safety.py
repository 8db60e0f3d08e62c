"""Checks production settings run at import: connections to other machines use TLS, and no secret is written in a
settings file (secrets come from the environment or from files the environment names).

Plain functions over plain values, so the production settings can call them before Django is set up.
"""

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
# libpq's modes that refuse a plain-text connection ("prefer" and "allow" silently fall back to plain text).
TLS_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
SECRET_WORDS = frozenset({"KEY", "SECRET", "PASSWORD", "TOKEN", "IV"})
# A URL carrying a password: scheme://user:password@host
URL_WITH_PASSWORD = re.compile(r"://[^/@:\s]+:[^/@\s]+@")
# Calls whose first argument names an environment variable (not a value).
ENV_READERS = frozenset({"env", "required", "str", "db_url", "url", "list", "int", "bool", "float"})
# Ids of the FIELD_ENCRYPTION_KEYS development and test settings use: production refuses them.
NON_PRODUCTION_KEY_ID_PREFIXES = ("dev", "test")


def is_local(host: str | None) -> bool:
    """This machine: the loopback names, or a Unix socket directory."""
    host = unquote(host or "").strip().strip("[]")
    return host in LOCAL_HOSTS or host.startswith("/")


def plaintext_databases(databases: Mapping[str, Mapping]) -> list[str]:
    """One message per PostgreSQL database on another machine whose connection does not require TLS."""
    problems = []
    for alias, config in databases.items():
        if "postgresql" not in config.get("ENGINE", "") or is_local(config.get("HOST")):
            continue
        # In the URL, not PGSSLMODE: the requirement stays visible in the one setting that names the database.
        mode = config.get("OPTIONS", {}).get("sslmode", "")
        if mode not in TLS_SSLMODES:
            problems.append(
                f"Database {alias!r} at {config['HOST']} is reached without TLS (sslmode={mode or 'prefer'}): "
                "add ?sslmode=verify-full (or require) to its URL."
            )
    return problems


def plaintext_redis(urls: Mapping[str, str]) -> list[str]:
    """One message per redis:// URL (setting name → URL) that points at another machine: it must be rediss://."""
    problems = []
    for name, url in urls.items():
        parts = urlsplit(url or "")
        if parts.scheme == "redis" and not is_local(parts.hostname):
            problems.append(f"{name} reaches Redis at {parts.hostname} without TLS: use a rediss:// URL.")
    return problems


def literal_secrets(paths: Iterable[Path]) -> list[str]:
    """One message per secret written in a settings file: a string assigned to a name such as *_KEY, *_SECRET,
    *_TOKEN, *_PASSWORD or *_IV (other than an environment variable's name), or a URL holding a password."""
    problems = []
    for path in paths:
        tree = ast.parse(Path(path).read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and URL_WITH_PASSWORD.search(node.value):
                problems.append(f"{path}:{node.lineno}: a URL with a password")
            if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [target.id for target in targets if isinstance(target, ast.Name)]
            if any(_is_secret_name(name) for name in names) and _holds_literal(node.value):
                problems.append(f"{path}:{node.lineno}: {', '.join(names)} is written in the file")
    return problems


def _is_secret_name(name: str) -> bool:
    return name.isupper() and name.rsplit("_", 1)[-1] in SECRET_WORDS


def _holds_literal(value: ast.expr) -> bool:
    """A non-empty string anywhere in the expression, except the variable name an env(...) call reads."""
    skipped: set[int] = set()
    for node in ast.walk(value):
        if isinstance(node, ast.Call) and node.args:
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in ENV_READERS:
                skipped.add(id(node.args[0]))
    return any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value and id(node) not in skipped
        for node in ast.walk(value)
    )
