#!/usr/bin/env bash
# make cluster-down: stop exactly the processes `make cluster` started (their process groups).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
shopt -s nullglob
for pidfile in "$DI_OPS_CLUSTER_HOME"/pids/*.pid; do
  pid=$(cat "$pidfile"); name=$(basename "$pidfile" .pid)
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
      # SIGKILL is delivered asynchronously: wait until the process is gone (or only a zombie)
      for _ in $(seq 1 20); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
        [ "$state" = Z ] && break
        sleep 0.25
      done
    fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
