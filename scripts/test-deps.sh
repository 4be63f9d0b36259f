#!/bin/sh
# test-deps.sh installs what `make test` needs beyond Go, when it is missing,
# with apt-get (Debian packages): node and npm (the npm `openai` client test and
# the Codex CLI test, whose packages the tests install from their lock files),
# chromium (the admin dashboard test) and promtool (package prometheus, the
# metrics format check). clang, wabt and rustc are optional for `make test`:
# the repository carries the C and WAT plugin binaries, and the tests that
# rebuild and compare them run where the toolchains are installed (CI).
set -eu
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
[ -z "$missing" ] && exit 0
echo "test-deps: installing$missing with apt-get" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
