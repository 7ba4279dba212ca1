#!/usr/bin/env bash
# Makes sure a ZooKeeper server answers on 127.0.0.1:2181 for the tests:
# installs Debian's package when missing, then starts it with a config of
# ours (loopback only, our own data dir, no admin server, ruok/srvr allowed).
# Prints one line and exits non-zero when ZooKeeper cannot be had.
set -euo pipefail

ZK_HOME=/usr/share/zookeeper
ZK_DIR=${SVC_ZK_DIR:-/tmp/svc-zookeeper}
CFG=$ZK_DIR/zoo.cfg

zk_ok() { [ "$(exec 3<>/dev/tcp/127.0.0.1/2181 && printf ruok >&3 && timeout 2 cat <&3 || true)" = imok ]; }

if zk_ok 2>/dev/null; then echo "zookeeper: already running on 127.0.0.1:2181"; exit 0; fi

if [ ! -x $ZK_HOME/bin/zkServer.sh ]; then
  echo "zookeeper: installing Debian's package"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq zookeeper; } >"/tmp/svc-zookeeper-install.log" 2>&1 ||
    { echo "zookeeper: apt-get failed, see /tmp/svc-zookeeper-install.log" >&2; exit 1; }
fi

mkdir -p "$ZK_DIR/data"
cat >"$CFG" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$ZK_DIR/data
clientPort=2181
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
maxSessionTimeout=60000
CFG

ZOO_LOG_DIR=$ZK_DIR ZOOPIDFILE=$ZK_DIR/zookeeper.pid $ZK_HOME/bin/zkServer.sh start "$CFG" >"$ZK_DIR/start.log" 2>&1
for _ in $(seq 1 60); do
  if zk_ok 2>/dev/null; then echo "zookeeper: started on 127.0.0.1:2181"; exit 0; fi
  sleep 0.5
done
echo "zookeeper: could not be started (see $ZK_DIR)" >&2
exit 1
