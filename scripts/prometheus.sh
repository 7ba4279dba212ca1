#!/usr/bin/env bash
# Makes sure Debian's Prometheus server and promtool are installed for the
# tests (test/observability): installs the package when missing, without its
# recommended packages (a node exporter). It does not start a server: each
# test starts its own, on a free port, with a config of its own; the
# package's own service is not started (scripts/debian-package.sh). Prints
# one line; exits non-zero when Prometheus cannot be had.
set -euo pipefail
cd "$(dirname "$0")"

SVC_APT_NO_RECOMMENDS=1 bash ./debian-package.sh prometheus prometheus >/dev/null
command -v promtool >/dev/null ||
  { echo "prometheus: installed, but promtool is not on PATH" >&2; exit 1; }
echo "prometheus: $(command -v prometheus)"
