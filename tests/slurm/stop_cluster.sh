#!/usr/bin/env bash
# Stop the daemons started by start_cluster.sh (by their pid files). Safe to run when not running.
STATE=/var/spool/slurm-test
stop() {  # stop <pidfile>: TERM, then wait up to 10 s for exit
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}
stop "$STATE/slurmd.pid"
stop "$STATE/slurmctld.pid"
stop /run/munge/munged.pid
echo "Slurm cluster stopped"
