#!/bin/bash
# Every app: --help prints the usage (with the whole common option set) on
# stdout and exits 0, --version exits 0, a bad option or value exits 2 with
# a usage message on stderr. Needs no root.
# No network namespace and no device: every run here ends at option
# parsing (--help, --version, or a usage error whose exit 2 is asserted),
# before any device is opened, so nothing reaches a network.
. "$(dirname "$0")/lib.sh"
require_bin inetd ping nc httpd stat

for app in inetd ping nc httpd; do
	b=$BIN/ustack-$app
	out=$("$b" --help) || fail "$app --help exited $?"
	echo "$out" | grep -q "^Usage: ustack-$app" || fail "$app --help: no Usage line"
	for o in --dev --addr --gateway --mac --mtu --host-addr --pcap --log --trace \
		--ctl --seed --fault --help --version; do
		echo "$out" | grep -q -- "$o" || fail "$app --help does not mention $o"
	done
	"$b" --version | grep -q "^ustack-$app (ustack) " || fail "$app --version"
	for bad in "--no-such-option" "--addr 10.0.0.300/24" "--mtu 20" "--log loud" \
		"--mac 01:00:5e:00:00:01" "--fault loss=lots" "--host-addr 10.0.0.1"; do
		# shellcheck disable=SC2086
		"$b" $bad >"/tmp/ustack-usage.$$" 2>&1 </dev/null
		rc=$?
		[ $rc = 2 ] || fail "$app $bad: exit $rc, expected 2"
		grep -qi "usage" "/tmp/ustack-usage.$$" || fail "$app $bad: no usage message"
	done
done
# Impossible addresses are refused with a sentence naming what is wrong.
# "--fault loss=lots" is a second, later usage error: should the address
# check ever be missing, the program still stops at option parsing.
while IFS='|' read -r opts want; do
	for app in "inetd" "httpd" "ping 10.0.0.1" "nc 10.0.0.1 7"; do
		# shellcheck disable=SC2086
		"$BIN"/ustack-$app $opts --fault loss=lots >"/tmp/ustack-usage.$$" 2>&1 </dev/null
		rc=$?
		[ $rc = 2 ] || fail "$app $opts: exit $rc, expected 2"
		grep -q -- "$want" "/tmp/ustack-usage.$$" ||
			fail "$app $opts: expected '$want', got: $(head -n 1 "/tmp/ustack-usage.$$")"
	done
done <<'ADDRS'
--addr 10.0.0.255/24|is the broadcast address
--addr 10.0.0.0/24|is the network address
--addr 127.0.0.2/8|is a loopback address
--addr 224.0.0.5/24|is a multicast address
--addr 240.0.0.1/24|is reserved
--addr 0.1.2.3/8|this network
--addr 10.0.0.2/0|a /0 subnet
--addr 10.0.0.2/32|a /32 leaves no other host
--gateway 10.0.0.2|is the stack's own address
--gateway 10.0.0.255|is the broadcast address
--gateway 10.0.0.0|is the network address
--gateway 10.0.1.1|is not on the subnet 10.0.0.0/24
--addr 10.0.0.2/31 --gateway 10.0.0.4|is not on the subnet 10.0.0.2/31
--host-addr 10.0.0.2/24|is the stack's own address
--host-addr 10.0.1.1/24|is not on the subnet
--host-addr 10.0.0.255/24|is the broadcast address
--addr 10.0.0.2/31 --host-addr 10.0.0.2/31|is the stack's own address
ADDRS
rm -f "/tmp/ustack-usage.$$"
"$BIN/ustack-ping" --dev tap0 -s 70000 10.0.0.1 >/dev/null 2>&1; [ $? = 2 ] || fail "ping -s 70000"
"$BIN/ustack-nc" 10.0.0.1 >/dev/null 2>&1; [ $? = 2 ] || fail "nc without PORT"
"$BIN/ustack-nc" 10.0.0.1 99999 >/dev/null 2>&1; [ $? = 2 ] || fail "nc with port 99999"
"$BIN/ustack-inetd" extra >/dev/null 2>&1; [ $? = 2 ] || fail "inetd with an argument"
for bad in "--set tcp_max_orphans" "--set no_such_field=1" "--set mtu=70000" "--set tcp_sack=x"; do
	# shellcheck disable=SC2086
	"$BIN/ustack-inetd" $bad --fault loss=lots >/dev/null 2>&1; [ $? = 2 ] || fail "inetd $bad: expected exit 2"
done
"$BIN/ustack-inetd" --help | grep -q -- "--set NAME=VALUE" || fail "inetd --help does not mention --set"
# -m beyond the stack's sockets: refused at start (it used to spin on
# EMFILE once the table was full); "--fault loss=lots" as above.
"$BIN/ustack-inetd" -m 8000 --fault loss=lots >"/tmp/ustack-usage.$$" 2>&1
[ $? = 2 ] || fail "inetd -m 8000: expected exit 2"
grep -q "at most 4090 connections fit" "/tmp/ustack-usage.$$" || fail "inetd -m 8000: $(head -n 1 "/tmp/ustack-usage.$$")"
"$BIN/ustack-inetd" -m 100 --max-sockets 50 --fault loss=lots >"/tmp/ustack-usage.$$" 2>&1
grep -q "at most 44 connections fit" "/tmp/ustack-usage.$$" || fail "inetd -m 100 --max-sockets 50: $(head -n 1 "/tmp/ustack-usage.$$")"
"$BIN/ustack-inetd" -m 100 --max-sockets 106 --fault loss=lots >"/tmp/ustack-usage.$$" 2>&1
grep -q "^ustack-inetd: --fault" "/tmp/ustack-usage.$$" || fail "inetd -m 100 --max-sockets 106 should pass the -m check"
"$BIN/ustack-nc" --linger-exit soon 10.0.0.1 7 >/dev/null 2>&1; [ $? = 2 ] || fail "nc --linger-exit soon"
rm -f "/tmp/ustack-usage.$$"
"$BIN/ustack-stat" --help | grep -q "^Usage: ustack-stat" || fail "stat --help"
"$BIN/ustack-stat" >/dev/null 2>&1; [ $? = 2 ] || fail "stat without PATH"
"$BIN/ustack-stat" /nonexistent/ctl conns >/dev/null 2>&1; [ $? = 1 ] || fail "stat on a missing socket"
log "pass"
