#!/usr/bin/env bash
# Installs, builds and runs every test except those labelled slow.
#   scripts/test.sh            all but slow
#   scripts/test.sh -L kafka   ctest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${BUILD_DIR:-build}"
if [ $# -eq 0 ]; then
  set -- -LE slow
fi
ctest --output-on-failure --timeout 600 -j2 "$@"
