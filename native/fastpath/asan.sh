#!/usr/bin/env bash
# The offline fast path under AddressSanitizer and UndefinedBehaviorSanitizer (round perf32): builds a scratch copy of
# the tree whose native/fastpath addon has -fsanitize=address,undefined, and runs the fast path's tests (the fuzz test
# included) in it with libasan preloaded into node. Nothing in this checkout changes; the scratch tree is removed.
#
#   native/fastpath/asan.sh                      test/fastpath (FASTPATH_FUZZ_SEEDS etc. pass through)
#   native/fastpath/asan.sh test/fastpath test/capture
#
# FASTPATH_ASAN_SOURCE=file builds that fast_path.cc instead (e.g. an earlier round's, to see what it reported).
# Any sanitizer report aborts the test process (halt_on_error / -fno-sanitize-recover) and fails the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
scratch="$(mktemp -d /tmp/fastpath-asan-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
tree="$scratch/tree"
mkdir "$tree"
cd "$root"
# ../shared (the tests' captures) beside the scratch tree as beside this one.
[ -e ../shared ] && ln -s "$(readlink -f ../shared)" "$scratch/shared"
cp -r src test bench bin dist models config package.json tsconfig.json tsconfig.test.json vitest.config.mjs "$tree/"
ln -s "$root/node_modules" "$tree/node_modules"
mkdir -p "$tree/native"
cp -r native/build "$tree/native/build" 2>/dev/null || true
mkdir -p "$tree/native/fastpath"
cp "${FASTPATH_ASAN_SOURCE:-native/fastpath/fast_path.cc}" "$tree/native/fastpath/fast_path.cc"
sed -e 's/"-O3", /"-O1", "-g", "-fsanitize=address,undefined,float-cast-overflow", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", /' \
    -e 's/"conditions": \[/"ldflags": ["-fsanitize=address,undefined,float-cast-overflow"],\n      "conditions": [/' \
    native/fastpath/binding.gyp > "$tree/native/fastpath/binding.gyp"
grep -q fsanitize "$tree/native/fastpath/binding.gyp"
gyp="$(dirname "$(dirname "$(command -v node)")")/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
(cd "$tree/native/fastpath" && node "$gyp" rebuild $( [ -f /usr/include/node/node_api.h ] && [ -z "${npm_config_nodedir:-}" ] && echo --nodedir=/usr ) >"$tree/gyp.log" 2>&1) || { tail -30 "$tree/gyp.log"; exit 1; }
syms="$(nm -D "$tree/native/fastpath/build/Release/sensor_fastpath.node")"
grep -q __asan_report <<<"$syms" || { echo 'asan.sh: the addon has no ASan instrumentation' >&2; exit 1; }
cd "$tree"
[ $# -gt 0 ] || set -- test/fastpath
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
  npx vitest run --pool=forks "$@"
