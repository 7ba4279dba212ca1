#!/usr/bin/env bash
# `npm run new-project -- <dir> [--name <name>]`: a project of one's own, made
# by `svc new` from this checkout. Until svc's packages are on the npm
# registry, the new project installs them from tarballs: this installs and
# builds the workspace, packs its packages as `pnpm publish` would, and has
# `svc new --packages` copy them into the project (vendor/).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: npm run new-project -- <dir> [--name <name>]   (dir: a new or empty folder)" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
npx -y pnpm@10.34.9 install --frozen-lockfile
npx pnpm run build
rm -rf .svc-packages
npx pnpm -r --filter './packages/*' pack --pack-destination .svc-packages >/dev/null
# Relative folders are taken from where npm was run, not from the repository.
cd "${INIT_CWD:-$root}"
exec node "$root/packages/cli/bin/svc.js" new --packages "$root/.svc-packages" "$@"
