#!/usr/bin/env bash
# make demo: the embedded default (SQLite + LocalExecutor) started like `airflow standalone`,
# with the demo fleet loaded, the project's DAGs unpaused and one demo run of each queued.
# Every port is a variable, checked before use (or chosen free): `python -m include.demo.runs ports`.
# The services' and Airflow's output goes to .airflow/logs/demo/; the login banner is printed last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Ports first: env.sh derives the UI URL and the SMTP connection from them.
ports="$(cd "$HERE/../.." && "$HERE/../../.venv/bin/python" -m include.demo.runs ports)" || exit 1
eval "$ports"
source "$HERE/env.sh"
cd "$REPO"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$DI_OPS_WORKER_LOG_PORT"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$DI_OPS_TRIGGER_LOG_PORT"

LOGS="$AIRFLOW_HOME/logs/demo"
mkdir -p "$AIRFLOW_HOME" "$DI_OPS_DATA_DIR" "$LOGS"
echo "== ports: UI $DI_OPS_UI_PORT, SMTP sink $DI_OPS_SMTP_PORT, DI lab $DI_OPS_LAB_ADMIN_PORT" \
  "(TLS from $DI_OPS_LAB_TLS_BASE_PORT), sshd $DI_OPS_SFTP_PORT, log servers $DI_OPS_WORKER_LOG_PORT/$DI_OPS_TRIGGER_LOG_PORT"
# "tonight" of the demo (latest 02:30 UTC), one value for every step below
DI_OPS_DEMO_AS_OF="${DI_OPS_DEMO_AS_OF:-$(python -c 'from include.demo.backups import demo_night; print(demo_night().isoformat())')}"
export DI_OPS_DEMO_AS_OF
eval "$(python -m include.demo.runs env)"
echo "== demo inputs (fleet, stores, inboxes) -> $DI_OPS_DATA_DIR"
python -m include.demo.runs prepare
echo "== Airflow metadata DB (SQLite) and ops DB migrations"
airflow db migrate >/dev/null
python -m di_ops.db upgrade 2>/dev/null | tail -1

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
rm -f "$DI_OPS_DATA_DIR/lab/endpoints.json"  # the lab writes it anew once all its ports listen
echo "== SMTP sink on 127.0.0.1:$DI_OPS_SMTP_PORT -> $DI_OPS_DATA_DIR/outbox (log: $LOGS/smtp_sink.log)"
python -m include.demo.smtp_sink --dir "$DI_OPS_DATA_DIR/outbox" --port "$DI_OPS_SMTP_PORT" >>"$LOGS/smtp_sink.log" 2>&1 &
PIDS+=($!)
NAMES=(smtp_sink)
while IFS= read -r service; do
  [ -n "$service" ] || continue
  mapfile -t argv < <(python -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$service")
  if [ "${argv[1]:-}" = "-m" ]; then name="${argv[2]##*.}"; else name="$(basename "${argv[0]}")-${argv[1]:-}"; fi
  echo "== demo service: ${argv[*]} (log: $LOGS/$name.log)"
  "${argv[@]}" >>"$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
done < <(python -m include.demo.runs services)

echo "== wait for the demo services"
if ! python -m include.demo.runs wait; then
  echo "A demo service did not come up: see $LOGS/*.log" >&2
  exit 1
fi
for i in "${!PIDS[@]}"; do  # a service that exited with an error (a one-shot command may exit 0)
  if ! kill -0 "${PIDS[$i]}" 2>/dev/null && ! wait "${PIDS[$i]}"; then
    echo "The demo service ${NAMES[$i]} failed: $(tail -n 3 "$LOGS/${NAMES[$i]}.log")" >&2
    exit 1
  fi
done

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
      printf ' logs: %s/*.log (Airflow: standalone.log)\n' "$LOGS"
      printf '==============================================================\n\n'
      exit 0
    fi
    sleep 1
  done
  echo "Airflow did not report healthy within 300 s; see $LOGS/standalone.log" >&2
) &
PIDS+=($!)

echo "== airflow standalone (api-server, scheduler, dag-processor, triggerer; log: $LOGS/standalone.log)"
status=0
airflow standalone >>"$LOGS/standalone.log" 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 130 ]; then
  echo "airflow standalone exited with $status; the end of $LOGS/standalone.log:" >&2
  tail -n 20 "$LOGS/standalone.log" >&2
fi
exit "$status"
