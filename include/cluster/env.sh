# Environment of `make cluster`: the docker-compose topology as local processes on this machine's
# PostgreSQL (metadata DB + ops DB) and Redis (Celery broker). Sourced by up.sh / down.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../demo/env.sh"
export DI_OPS_CLUSTER_HOME="${DI_OPS_CLUSTER_HOME:-$REPO/.airflow-cluster}"
export DI_OPS_CLUSTER_PORT="${DI_OPS_CLUSTER_PORT:-8090}"
export DI_OPS_CLUSTER_PG="${DI_OPS_CLUSTER_PG:-postgres@127.0.0.1:5432}"
export DI_OPS_CLUSTER_METADATA_DB="${DI_OPS_CLUSTER_METADATA_DB:-di_ops_airflow}"
export DI_OPS_CLUSTER_OPS_DB="${DI_OPS_CLUSTER_OPS_DB:-di_ops}"
export DI_OPS_CLUSTER_REDIS_DB="${DI_OPS_CLUSTER_REDIS_DB:-1}"
export DI_OPS_CLUSTER_WORKERS="${DI_OPS_CLUSTER_WORKERS:-2}"

export AIRFLOW_HOME="$DI_OPS_CLUSTER_HOME"
export DI_OPS_DATA_DIR="${DI_OPS_CLUSTER_DATA_DIR:-$DI_OPS_CLUSTER_HOME/data}"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
# New DAGs start paused, as in docker-compose: a cluster only runs what an operator unpauses.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://$DI_OPS_CLUSTER_PG/$DI_OPS_CLUSTER_METADATA_DB"
export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:6379/$DI_OPS_CLUSTER_REDIS_DB"
export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql://$DI_OPS_CLUSTER_PG/$DI_OPS_CLUSTER_METADATA_DB"
export AIRFLOW__API__PORT="$DI_OPS_CLUSTER_PORT"
export AIRFLOW__API__BASE_URL="http://localhost:$DI_OPS_CLUSTER_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$DI_OPS_CLUSTER_PORT/execution/"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=True
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT="${DI_OPS_CLUSTER_SCHEDULER_HEALTH_PORT:-8974}"
export AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_SERVER_PORT=0
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${DI_OPS_CLUSTER_TRIGGER_LOG_PORT:-8798}"
export AIRFLOW_CONN_DI_OPS_DB="postgresql://$DI_OPS_CLUSTER_PG/$DI_OPS_CLUSTER_OPS_DB"
# Secrets shared by every component (a JWT secret that differs between components is the #1
# compose failure: "Invalid auth token"); generated once into the cluster home, never committed.
if [ -f "$DI_OPS_CLUSTER_HOME/secrets.env" ]; then
  source "$DI_OPS_CLUSTER_HOME/secrets.env"
fi
