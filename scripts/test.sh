#!/usr/bin/env bash
# Run the whole test suite on SQLite, then the database tests (marked `db`) again on
# PostgreSQL, each test in a schema of its own. PostgreSQL: ARENA_TEST_PG, default
# postgresql+psycopg://root@127.0.0.1:5432/test (trust auth); started here when it is down.
# Set ARENA_SKIP_PG=1 to skip the PostgreSQL pass.
# Usage: bash scripts/test.sh [extra pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "no .venv: run 'bash scripts/install.sh' first" >&2; exit 2; }
export PYTHONDONTWRITEBYTECODE=1

"$PY" -m pytest -q "$@"
sqlite_rc=$?

pg_rc=0
if [ "${ARENA_SKIP_PG:-0}" != 1 ]; then
  PG=${ARENA_TEST_PG:-postgresql+psycopg://root@127.0.0.1:5432/test}
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      echo "starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
  echo "== database tests on PostgreSQL =="
  ARENA_TEST_PG="$PG" "$PY" -m pytest -q -m db "$@"
  pg_rc=$?
fi

[ $sqlite_rc -eq 0 ] && [ $pg_rc -eq 0 ]
