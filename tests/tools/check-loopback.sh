#!/bin/sh
# Run the no-root example (apps/loopback.c) twice: it must finish its echo
# exchange through TIME_WAIT, and the two captures must be identical byte
# for byte (time is an input; same seed, same frames).
# Usage: check-loopback.sh BUILD_DIR
set -eu
build=${1:-build}
tmp=$(mktemp -d /tmp/ustack-loopback.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bin=$build/bin/ustack-loopback
for i in 1 2; do
	timeout 20 "$bin" -w "$tmp/run$i.pcap" >"$tmp/run$i.out" 2>&1 ||
		{ cat "$tmp/run$i.out"; echo "loopback: FAIL: run $i exited non-zero" >&2; exit 1; }
done
for want in 'SYN_SENT -> ESTABLISHED' 'FIN_WAIT_2 -> TIME_WAIT' \
	'TIME_WAIT -> CLOSED (2MSL)' 'client got "HELLO, LOOPBACK"'; do
	grep -qF "$want" "$tmp/run1.out" ||
		{ cat "$tmp/run1.out"; echo "loopback: FAIL: no '$want' in the output" >&2; exit 1; }
done
cmp -s "$tmp/run1.pcap" "$tmp/run2.pcap" ||
	{ echo "loopback: FAIL: two runs wrote different captures" >&2; exit 1; }
[ "$(wc -c <"$tmp/run1.pcap")" -gt 1000 ] ||
	{ echo "loopback: FAIL: capture too small" >&2; exit 1; }
echo "loopback: PASS (echo through TIME_WAIT in virtual time; two runs, identical captures)"
