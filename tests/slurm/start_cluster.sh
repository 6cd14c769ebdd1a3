#!/usr/bin/env bash
# Start a one-node Slurm "cluster" on localhost (Debian bookworm, root, no systemd needed).
# The node advertises a fake GRES gpu:2 (no device files), so --gres=gpu:N / --gpus=N jobs are
# schedulable on a CPU-only machine. Idempotent: re-running reinstalls nothing and restarts
# only daemons that are not running. Stop with tests/slurm/stop_cluster.sh.
set -euo pipefail

CONF=/etc/slurm            # Debian's compiled-in config dir
STATE=/var/spool/slurm-test
NODE=$(hostname -s 2>/dev/null || echo localhost)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2/1024*0.9)}' /proc/meminfo)   # a bit under physical memory

# 1. Packages (only if missing).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# 2. Configuration.
mkdir -p "$CONF" "$STATE"/{ctld,d} /var/log/slurm-test
cat > "$CONF/slurm.conf" <<CONFEOF
ClusterName=localtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm-test/slurmctld.log
SlurmdLogFile=/var/log/slurm-test/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
# No accounting, so Snakemake polls squeue; keep finished jobs visible to squeue for 10 min.
MinJobAge=600
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONFEOF
# Fake GPUs: slurmd 22.05 drops file-less gpu GRES ("Removing file-less GPU"), so point File= at two
# symlinks to /dev/null. AutoDetect=off so slurmd does not probe NVML.
ln -sfn /dev/null "$STATE/fakegpu0"; ln -sfn /dev/null "$STATE/fakegpu1"
printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/fakegpu[0-1]\n' "$NODE" "$STATE" > "$CONF/gres.conf"

# 3. Daemons (started directly; each daemonizes itself).
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ ! -s /etc/munge/munge.key ]; then          # the package normally creates the key
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
running "$STATE/slurmctld.pid" || slurmctld
running "$STATE/slurmd.pid"    || slurmd

# 4. Wait for the node to be idle and a GPU job step to run.
dump_logs() {
  echo "start_cluster.sh: cluster did not come up" >&2
  for f in /var/log/munge/munged.log /var/log/slurm-test/slurmctld.log /var/log/slurm-test/slurmd.log; do
    echo "===== $f" >&2; tail -n 40 "$f" >&2 2>/dev/null || true
  done
  sinfo -N -l >&2 2>/dev/null || true
  exit 1
}
for i in $(seq 60); do
  state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
  case "$state" in
    idle|mix|alloc) break ;;
    down*|drain*)   scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  [ "$i" = 60 ] && dump_logs
  sleep 1
done
timeout 60 srun -N1 --gres=gpu:1 hostname >/dev/null || dump_logs
echo "Slurm cluster up: node $NODE, $CPUS CPUs, ${MEM_MB} MB, gres gpu:2"
