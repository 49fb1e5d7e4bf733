# Environment of the embedded default (SQLite + LocalExecutor), sourced by the Makefile targets.
# Everything lives inside the clone: .airflow/ (Airflow home) and .data/ (ops DB, reports, inbox, outbox).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO
export PATH="$REPO/.venv/bin:$PATH"
export AIRFLOW_HOME="$REPO/.airflow"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$REPO/.airflow/airflow.db"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export AIRFLOW__API__PORT="${DI_OPS_UI_PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://localhost:${DI_OPS_UI_PORT:-8080}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
export PYTHONPATH="$REPO/plugins:$REPO${PYTHONPATH:+:$PYTHONPATH}"
export DI_OPS_DATA_DIR="${DI_OPS_DATA_DIR:-$REPO/.data}"
export DI_OPS_SMTP_PORT="${DI_OPS_SMTP_PORT:-8025}"
export AIRFLOW_CONN_DI_OPS_DB="${AIRFLOW_CONN_DI_OPS_DB:-{\"conn_type\": \"sqlite\", \"host\": \"$DI_OPS_DATA_DIR/ops.db\"\}}"
export AIRFLOW_CONN_SMTP_DEFAULT="${AIRFLOW_CONN_SMTP_DEFAULT:-{\"conn_type\": \"smtp\", \"host\": \"127.0.0.1\", \"port\": $DI_OPS_SMTP_PORT, \"extra\": {\"disable_tls\": true, \"disable_ssl\": true, \"from_email\": \"di-ops@localhost\"\}\}}"
