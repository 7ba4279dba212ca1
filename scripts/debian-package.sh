#!/usr/bin/env bash
# Makes sure a program the tests need is installed: when COMMAND is not found,
# installs Debian's PACKAGE (apt-get, as root), one install at a time on the
# machine (test files run in parallel and dpkg takes one at a time). Prints one
# line; exits non-zero, naming the log, when it cannot be had.
#   scripts/debian-package.sh PACKAGE COMMAND     e.g. chromium /usr/bin/chromium
# SVC_APT_NO_RECOMMENDS=1 leaves the package's recommended packages out.
# The package's own services are not started (no init system here, and a
# policy-rc.d that forbids it is in place while apt-get runs).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PACKAGE COMMAND" >&2
  exit 2
fi
package=$1
command=$2
found() { command -v "$command" >/dev/null 2>&1; }

if found; then echo "$package: $(command -v "$command")"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "$package: $command is missing; install Debian's $package package (apt-get install $package, as root)" >&2
  exit 1
fi

log=/tmp/svc-$package-install.log
exec 9>/tmp/svc-apt.lock
flock 9
# Another test may have installed it while this one waited for the lock.
if found; then echo "$package: $(command -v "$command")"; exit 0; fi
echo "$package: installing Debian's package"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e $policy ]; then
  printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && own_policy=1
fi
trap 'if [ $own_policy = 1 ]; then rm -f $policy; fi' EXIT
recommends=()
if [ "${SVC_APT_NO_RECOMMENDS:-}" = 1 ]; then recommends=(--no-install-recommends); fi
# Not handed to apt-get: a daemon a package starts would hold the lock as long as it runs.
{ apt-get update -qq && apt-get install -y -qq "${recommends[@]}" "$package"; } >"$log" 2>&1 9>&- ||
  { echo "$package: apt-get failed, see $log" >&2; exit 1; }
found || { echo "$package: installed, but $command is not there" >&2; exit 1; }
echo "$package: $(command -v "$command")"
