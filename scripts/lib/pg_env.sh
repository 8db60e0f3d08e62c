# Sourced by scripts/backup and scripts/restore: turn DATABASE_URL into libpq's PG* variables, so that no password
# (nor the URL holding it) ever appears on a command line, where `ps` would show it to every user of the machine.
pg_env_from_url() {  # url
  local exports
  exports=$(python3 - "$1" <<'PY'
import shlex
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

url = urlsplit(sys.argv[1])
if url.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
    sys.exit(f"DATABASE_URL must be a PostgreSQL URL, not {url.scheme or 'empty'}")
values = {
    "PGHOST": unquote(url.hostname or ""),
    "PGPORT": str(url.port or ""),
    "PGUSER": unquote(url.username or ""),
    "PGPASSWORD": unquote(url.password or ""),
    "PGDATABASE": unquote(url.path.lstrip("/")),
}
# Query options libpq understands as variables (sslmode=verify-full&sslrootcert=... in production).
for key, value in parse_qsl(url.query):
    if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"):
        values["PG" + key.upper()] = value
for name, value in values.items():
    if value:
        print(f"export {name}={shlex.quote(value)}")
PY
  ) || return 1
  eval "$exports"
}

# openssl reads the passphrase from a file or an environment variable, never from its arguments.
backup_pass_option() {
  if [[ -n "${BACKUP_KEY_FILE:-}" ]]; then
    [[ -r "$BACKUP_KEY_FILE" ]] || { echo "BACKUP_KEY_FILE $BACKUP_KEY_FILE is not readable" >&2; return 1; }
    echo "file:$BACKUP_KEY_FILE"
  elif [[ -n "${BACKUP_KEY:-}" ]]; then
    echo "env:BACKUP_KEY"
  else
    echo "Set BACKUP_KEY_FILE (a file holding the passphrase) or BACKUP_KEY" >&2
    return 1
  fi
}

# One cipher for both directions: AES-256-CBC, the key derived from the passphrase with PBKDF2 (600k rounds).
BACKUP_CIPHER=(-aes-256-cbc -pbkdf2 -iter 600000 -md sha256)
