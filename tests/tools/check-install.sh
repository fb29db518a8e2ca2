#!/bin/sh
# make install into a scratch prefix, then build apps/hello.c against the
# installed library with pkg-config alone: the public headers are
# self-contained and the .pc file is right.
# Usage: check-install.sh BUILD_DIR
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/ustack-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
make -C "$root" --no-print-directory BUILD="$build" install PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; echo "install: make install failed" >&2; exit 1; }
for f in lib/libustack.a lib/pkgconfig/ustack.pc include/ustack/ustack.h \
	include/ustack/socket.h bin/ustack-inetd; do
	[ -e "$tmp/prefix/$f" ] || { echo "install: $f missing" >&2; exit 1; }
done
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$tmp/hello" \
	"$root/apps/hello.c" $(pkg-config --cflags --libs ustack) ||
	{ echo "install: apps/hello.c does not build against the installed library" >&2; exit 1; }
echo "install: PASS (library, headers, programs, pkg-config; hello.c builds against them)"
