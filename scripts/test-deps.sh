#!/bin/sh
# test-deps.sh installs what `make test` needs beyond Go, when it is missing:
# node and npm (the npm `openai` client test; its package is installed by the
# test itself from test/node/package-lock.json). clang, wabt and rustc are
# optional: the repository carries the C and WAT plugin binaries, and tests
# that rebuild and compare them run where the toolchains are installed (CI).
set -eu
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	exit 0
fi
echo "test-deps: installing nodejs and npm with apt-get" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
