# Shared by scripts/smdh and scripts/test: a project-local virtual environment in .venv,
# created on first use and re-installed only when pyproject.toml changes.
# Needs nothing but Python >= 3.11 with pip.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SMDH_VENV:-$ROOT/.venv}"
# pip's complaint about index locations some machines configure but do not have
PIP_NOISE="is ignored: it is neither a file nor a directory"

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "SMDH needs Python 3.11 or newer on PATH (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

ensure_venv() {  # $1: pip extras, e.g. "test" or ""
  local extras="$1" py stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    py="$(find_python)" || exit 1
    echo "Creating virtual environment in $VENV ..." >&2
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
      # Some distributions ship Python without the venv module; virtualenv does the same job.
      "$py" -m pip install --quiet --user virtualenv >&2
      "$py" -m virtualenv --quiet "$VENV" >&2
    fi
  fi
  stamp="$VENV/.smdh-installed${extras:+-$extras}"
  want="$(cat "$ROOT/pyproject.toml" | cksum)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing SMDH${extras:+ with [$extras]} into $VENV (first run takes a minute) ..." >&2
    # (the filter drops pip's noise about index locations configured on some machines)
    "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | { grep -v "$PIP_NOISE" || true; } >&2
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${extras:+[$extras]}" 2>&1 \
      | { grep -v "$PIP_NOISE" || true; } >&2
    echo "$want" > "$stamp"
  fi
}

ensure_mosquitto() {  # a real MQTT broker + clients for the integration tests
  if [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1; then
    command -v mosquitto_pub >/dev/null 2>&1 && return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing mosquitto and mosquitto-clients (Debian packages) ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
  else
    echo "WARNING: mosquitto is not installed and cannot be installed here (needs root +" \
         "apt-get): the tests against an external broker will be skipped." >&2
  fi
}
