#!/usr/bin/env bash
# build.sh [OUTDIR] — rebuild the built-in resolvers from src/ into OUTDIR
# (default: wasm/ next to this script), with the C guest library's build
# script (../guest/c/build.sh). Requires clang and lld (Debian bookworm:
# apt-get install clang lld). The committed wasm/ files are the output of
# this script; TestBuiltinsAreRebuiltFromSource checks that they still are.
#
# OUTDIR also receives TOOLCHAIN, the compiler's version line: the bytes
# depend on it, so the test can tell a changed source from another clang.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/wasm}
mkdir -p "$out"
build=$here/../guest/c/build.sh

"${CLANG:-clang}" --version | head -n 1 >"$out/TOOLCHAIN"
for name in lww set-union counter shopping-cart; do
	srcs=("$here/src/$name.c")
	if [ "$name" != lww ]; then
		srcs+=("$here/src/json.c")
	fi
	"$build" "$out/$name.wasm" "${srcs[@]}"
done
chmod 644 "$out"/*.wasm
