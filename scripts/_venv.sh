# Sourced by the scripts: makes .venv (once) and installs the project into it when pyproject changes.
# It never changes folder: arguments such as --image cat.png mean the caller's folder. ROOT is the
# checkout; IMAGEBOT_HOME (unless already set) tells the bot to read .env and keep its data there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export IMAGEBOT_HOME=${IMAGEBOT_HOME:-$ROOT}
PY=${PYTHON:-python3}
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PY" -m venv "$ROOT/.venv"
fi
hash=$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)
stamp=$ROOT/.venv/.installed-$hash-$1
# The test install is the run install plus the test tools: either serves `run`.
if [ ! -f "$stamp" ] && ! { [ "$1" = run ] && [ -f "$ROOT/.venv/.installed-$hash-test" ]; }; then
  if [ "$1" = test ]; then
    "$ROOT/.venv/bin/python" -m pip install --quiet -e "$ROOT[test]"
  else
    "$ROOT/.venv/bin/python" -m pip install --quiet -e "$ROOT"
  fi
  rm -f "$ROOT"/.venv/.installed-*-"$1"
  touch "$stamp"
fi
