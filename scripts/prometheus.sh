#!/usr/bin/env bash
# Makes sure Debian's Prometheus server and promtool are installed for the
# tests (test/observability): installs the package when missing. It does not
# start a server: each test starts its own, on a free port, with a config of
# its own. The package's own service (a prometheus and a node exporter on
# :9090 and :9100) is not started: apt-get runs here with no init system, and
# policy-rc.d forbids it anyway. Prints one line; exits non-zero when
# Prometheus cannot be had.
set -euo pipefail

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "prometheus: $(command -v prometheus)"
  exit 0
fi

# One apt-get at a time on the machine (scripts/debian-package.sh takes the same lock).
exec 9>/tmp/svc-apt.lock
flock 9
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "prometheus: $(command -v prometheus)"
  exit 0
fi
echo "prometheus: installing Debian's package"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e $policy ]; then
  printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && own_policy=1
fi
trap 'if [ $own_policy = 1 ]; then rm -f $policy; fi' EXIT
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; } \
  >/tmp/svc-prometheus-install.log 2>&1 ||
  { echo "prometheus: apt-get failed, see /tmp/svc-prometheus-install.log" >&2; exit 1; }
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
  { echo "prometheus: installed, but prometheus or promtool is not on PATH" >&2; exit 1; }
echo "prometheus: $(command -v prometheus)"
