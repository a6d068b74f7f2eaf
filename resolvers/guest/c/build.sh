#!/usr/bin/env bash
# build.sh OUT.wasm SOURCE.c... — compile a C resolver with the concord guest
# library (concord.c, next to this script) into a WebAssembly module.
#
# Requires clang and wasm-ld (Debian: apt-get install clang lld). No libc, no
# WASI sysroot: the module is freestanding and imports only concord.*.
# The output depends only on the sources and the clang version: no
# timestamps, no paths (no debug info; -ffile-prefix-map for __FILE__).
#
# CLANG overrides the compiler (default: clang). Extra -I/-D flags may be put
# in CFLAGS.
set -euo pipefail

if [ "$#" -lt 2 ]; then
	echo "usage: $0 OUT.wasm SOURCE.c..." >&2
	exit 2
fi
out=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
clang=${CLANG:-clang}
if ! command -v "$clang" >/dev/null; then
	echo "$0: $clang not found; install it: apt-get install clang lld" >&2
	exit 1
fi

# -mbulk-memory: memcpy/memset become memory.copy/memory.fill (no libc).
# --strip-debug keeps the name section (function names in trap traces).
# shellcheck disable=SC2086
"$clang" --target=wasm32 -O2 -std=c11 \
	-Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -nostdlib -mbulk-memory -flto \
	-ffile-prefix-map="$root/=" -ffile-prefix-map="$PWD/=" \
	-I"$here" ${CFLAGS:-} \
	-Wl,--no-entry -Wl,--strip-debug -Wl,-z,stack-size=65536 \
	-o "$out" "$@" "$here/concord.c"
