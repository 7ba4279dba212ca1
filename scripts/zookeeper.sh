#!/usr/bin/env bash
# Makes sure a ZooKeeper server answers on 127.0.0.1:2181 for the tests:
# installs Debian's package when missing, then starts it with a config of
# ours (loopback only, our own data dir, no admin server, no JMX, ruok/srvr
# allowed). Prints one line and exits non-zero when ZooKeeper cannot be had.
# SVC_ZK_DIR (default /tmp/svc-zookeeper) and SVC_ZK_PORT (default 2181) place
# another one; its pid is in $SVC_ZK_DIR/zookeeper.pid.
set -euo pipefail

ZK_HOME=/usr/share/zookeeper
ZK_DIR=${SVC_ZK_DIR:-/tmp/svc-zookeeper}
PORT=${SVC_ZK_PORT:-2181}
CFG=$ZK_DIR/zoo.cfg

zk_ok() { [ "$(exec 3<>/dev/tcp/127.0.0.1/$PORT && printf ruok >&3 && timeout 2 cat <&3 || true)" = imok ]; }

if zk_ok 2>/dev/null; then echo "zookeeper: already running on 127.0.0.1:$PORT"; exit 0; fi

if [ ! -x $ZK_HOME/bin/zkServer.sh ]; then
  # One apt-get at a time on the machine (scripts/debian-package.sh takes the same lock).
  exec 9>/tmp/svc-apt.lock
  flock 9
fi
if [ ! -x $ZK_HOME/bin/zkServer.sh ]; then
  echo "zookeeper: installing Debian's package"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq zookeeper; } >"/tmp/svc-zookeeper-install.log" 2>&1 ||
    { echo "zookeeper: apt-get failed, see /tmp/svc-zookeeper-install.log" >&2; exit 1; }
fi
# Let go of the lock before the server starts: the daemon would inherit it, and hold every later
# install (scripts/debian-package.sh) for as long as it runs.
exec 9>&-

mkdir -p "$ZK_DIR/data"
cat >"$CFG" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$ZK_DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
maxSessionTimeout=60000
CFG

# zkServer.sh turns JMX on unless told otherwise, and the JVM's JMX connector
# listens on a random port of every interface: JMXDISABLE keeps it closed.
JMXDISABLE=true ZOO_LOG_DIR=$ZK_DIR ZOOPIDFILE=$ZK_DIR/zookeeper.pid \
  $ZK_HOME/bin/zkServer.sh start "$CFG" >"$ZK_DIR/start.log" 2>&1
for _ in $(seq 1 60); do
  if zk_ok 2>/dev/null; then echo "zookeeper: started on 127.0.0.1:$PORT"; exit 0; fi
  sleep 0.5
done
echo "zookeeper: could not be started (see $ZK_DIR)" >&2
exit 1
