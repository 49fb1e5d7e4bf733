#!/usr/bin/env bash
# make cluster: api-server, scheduler, dag-processor, triggerer and N Celery workers as local
# processes against PostgreSQL + Redis. Each runs in its own process group; pids in
# $DI_OPS_CLUSTER_HOME/pids, logs in $DI_OPS_CLUSTER_HOME/logs. Stop with `make cluster-down`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO"
mkdir -p "$DI_OPS_CLUSTER_HOME"/{pids,logs} "$DI_OPS_DATA_DIR"

if [ ! -f "$DI_OPS_CLUSTER_HOME/secrets.env" ]; then
  umask 077
  python - > "$DI_OPS_CLUSTER_HOME/secrets.env" <<'PY'
import secrets
from cryptography.fernet import Fernet
print(f"export AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_hex(32)}")
print(f"export AIRFLOW__API__SECRET_KEY={secrets.token_hex(32)}")
print(f"export AIRFLOW__CORE__FERNET_KEY={Fernet.generate_key().decode()}")
PY
  umask 022
fi
source "$DI_OPS_CLUSTER_HOME/secrets.env"

pg_host=${DI_OPS_CLUSTER_PG#*@}
for db in "$DI_OPS_CLUSTER_METADATA_DB" "$DI_OPS_CLUSTER_OPS_DB"; do
  psql -h "${pg_host%:*}" -p "${pg_host#*:}" -U "${DI_OPS_CLUSTER_PG%@*}" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || psql -h "${pg_host%:*}" -p "${pg_host#*:}" -U "${DI_OPS_CLUSTER_PG%@*}" -d postgres -qc "CREATE DATABASE \"$db\""
done
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

echo "== migrations (Airflow metadata DB $DI_OPS_CLUSTER_METADATA_DB, ops DB $DI_OPS_CLUSTER_OPS_DB)"
airflow db migrate >/dev/null
python -m di_ops.db upgrade 2>/dev/null | tail -1

start() {  # start NAME CMD... in its own session (process group) with a pid file and a log
  local name=$1; shift
  if [ -f "$DI_OPS_CLUSTER_HOME/pids/$name.pid" ] && kill -0 "$(cat "$DI_OPS_CLUSTER_HOME/pids/$name.pid")" 2>/dev/null; then
    echo "   $name already running (pid $(cat "$DI_OPS_CLUSTER_HOME/pids/$name.pid"))"; return
  fi
  setsid "$@" >"$DI_OPS_CLUSTER_HOME/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$DI_OPS_CLUSTER_HOME/pids/$name.pid"
  echo "   $name: pid $!, log $DI_OPS_CLUSTER_HOME/logs/$name.log"
}

echo "== starting components"
start api-server airflow api-server --port "$DI_OPS_CLUSTER_PORT"
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start triggerer airflow triggerer
for i in $(seq 1 "$DI_OPS_CLUSTER_WORKERS"); do
  AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((8800 + i)) \
    start "worker$i" airflow celery worker --celery-hostname "worker$i@%h" --concurrency 2
done

echo "== waiting for the api-server"
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$DI_OPS_CLUSTER_PORT/api/v2/monitor/health" >/dev/null 2>&1; then
    password=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" \
      "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null || echo '?')
    echo "cluster up: http://localhost:$DI_OPS_CLUSTER_PORT  login admin / $password  (stop: make cluster-down)"
    exit 0
  fi
  sleep 1
done
echo "the api-server did not become healthy; see $DI_OPS_CLUSTER_HOME/logs/api-server.log" >&2
exit 1
