#!/usr/bin/env bash
# make demo: the embedded default (SQLite + LocalExecutor) started like `airflow standalone`,
# with the demo fleet loaded, the project's DAGs unpaused and one demo run of each queued.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO"

port_busy() { python - "$1" <<'PY'
import socket, sys
s = socket.socket()
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}
if port_busy "$AIRFLOW__API__PORT"; then
  echo "Port $AIRFLOW__API__PORT is in use; stop what runs there or set DI_OPS_UI_PORT=8081 make demo" >&2
  exit 1
fi

mkdir -p "$AIRFLOW_HOME" "$DI_OPS_DATA_DIR"
# "tonight" of the demo (latest 02:30 UTC), one value for every step below
DI_OPS_DEMO_AS_OF="${DI_OPS_DEMO_AS_OF:-$(python -c 'from include.demo.backups import demo_night; print(demo_night().isoformat())')}"
export DI_OPS_DEMO_AS_OF
eval "$(python -m include.demo.runs env)"
echo "== demo inputs (fleet, stores, inboxes) -> $DI_OPS_DATA_DIR"
python -m include.demo.runs prepare
echo "== Airflow metadata DB (SQLite) and ops DB migrations"
airflow db migrate >/dev/null
python -m di_ops.db upgrade 2>/dev/null | tail -1

echo "== SMTP sink on 127.0.0.1:$DI_OPS_SMTP_PORT -> $DI_OPS_DATA_DIR/outbox"
python -m include.demo.smtp_sink --dir "$DI_OPS_DATA_DIR/outbox" --port "$DI_OPS_SMTP_PORT" &
PIDS=($!)
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
while IFS= read -r service; do
  [ -n "$service" ] || continue
  mapfile -t argv < <(python -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$service")
  echo "== demo service: ${argv[*]}"
  "${argv[@]}" &
  PIDS+=($!)
done < <(python -m include.demo.runs services)

echo "== parse DAGs"
airflow dags reserialize >/dev/null 2>&1

(
  for _ in $(seq 1 300); do
    if curl -fsS "http://localhost:$AIRFLOW__API__PORT/api/v2/monitor/health" >/dev/null 2>&1; then
      # Unpause and queue only now: a task started before the api-server answers fails its first try.
      echo "== unpause the project's DAGs, queue the demo runs"
      python -m include.demo.runs trigger
      echo "== next run of every scheduled DAG"
      python -m include.demo.runs schedules || echo "!! a scheduled DAG has no next run: it would never run by itself" >&2
      password=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" \
        "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null || echo '?')
      printf '\n==============================================================\n'
      printf ' di-ops demo is up:  http://localhost:%s\n' "$AIRFLOW__API__PORT"
      printf ' login: admin / %s\n' "$password"
      printf ' (password kept in %s)\n' "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
      printf ' notices: %s/outbox/*.eml   stop: Ctrl-C\n' "$DI_OPS_DATA_DIR"
      printf '==============================================================\n\n'
      exit 0
    fi
    sleep 1
  done
  echo "Airflow did not report healthy within 300 s; see the output above" >&2
) &

echo "== airflow standalone (api-server, scheduler, dag-processor, triggerer)"
airflow standalone
