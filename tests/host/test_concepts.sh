#!/bin/bash
# docs/concepts.md stays true: every concept script runs (apps/demo/
# concept.sh NAME, each in a network namespace it makes and removes) and
# its "=>" result lines say what the page says; every "file function"
# the page names as the code exists in that file.
# Network namespace: concept.sh creates its own (ustk-cpt-NAME-PID) with
# `ip netns add` and deletes it on exit; this test starts nothing else.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tcpdump tshark ss nc
require_bin inetd nc stat httpd lb rpc echo-threads
T=$(mktemp -d /tmp/ustack-host.XXXXXX) || fail "mktemp"
trap 'rm -rf "$T"' EXIT
CS=$ROOT/apps/demo/concept.sh
DOC=$ROOT/docs/concepts.md

# 1. the code the page points at exists: "`path/file.c` `function`" pairs
n=0
while read -r file fn; do
	[ -f "$ROOT/$file" ] || fail "docs/concepts.md names $file, which does not exist"
	grep -qE "(^|[^a-z_0-9])$fn\(" "$ROOT/$file" || fail "docs/concepts.md: no $fn( in $file"
	n=$((n + 1))
done < <(grep -oE '`(stack|apps|drivers)/[a-z0-9_/]+\.c` `[a-z_0-9]+`' "$DOC" | tr -d '`')
[ "$n" -ge 30 ] || fail "only $n code references found in docs/concepts.md"
log "$n code references in docs/concepts.md exist"

# 2. every concept the script knows is on the page, and runs
[ "$("$CS" list | wc -l)" = 12 ] || fail "concept.sh list: expected 12 concepts"
for c in $("$CS" list); do
	grep -q "apps/demo/concept.sh $c" "$DOC" || fail "docs/concepts.md does not show 'concept.sh $c'"
done

# run NAME: the concept's output in $T/NAME.out, exit status checked
run() {
	timeout -k 5 180 "$CS" "$1" "$BUILD" >"$T/$1.out" 2>&1 ||
		{ tail -n 25 "$T/$1.out"; fail "concept $1 exited $?"; }
	ip netns list | grep -q "ustk-cpt-$1-" && fail "concept $1 left its namespace behind"
	grep "^=>" "$T/$1.out" | sed "s/^/[$1] /"
}
# expect NAME REGEX: a result line of concept NAME matches
expect() {
	grep -qE "^=> .*$2" "$T/$1.out" || { tail -n 25 "$T/$1.out"; fail "concept $1: no result line matching '$2'"; }
}

run layers
expect layers "ethertype IPv4.*Flags \[P.\]"
expect layers "trace: tcp in"
run handshake
expect handshake "states seen: 10 of 11: CLOSED CLOSE_WAIT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 LAST_ACK LISTEN SYN_RCVD SYN_SENT TIME_WAIT"
run waits
expect waits "TIME_WAIT held by the stack"
expect waits "CLOSE_WAIT held .* FIN-WAIT-2"
expect waits "CLOSE_WAIT -> LAST_ACK -> CLOSED"
run closing
expect closing "CLOSING .* script passes"
run rst
expect rst "SYN answered by RST"
expect rst "tcp.drop_no_conn = [1-9]"
run shutdown
expect shutdown "data arrived in FIN_WAIT_2"
expect shutdown "kernel sent RST"
run arp
expect arp "question: broadcast to ff:ff:ff:ff:ff:ff"
expect arp "answer: unicast from 02:00:00:00:00:02"
run loss
expect loss "TCP: 262144 of 262144 bytes, sha256 [0-9a-f]+ \(matches\), [1-9][0-9]* retransmissions"
expect loss "UDP: (1[0-9][0-9]|2[0-4][0-9]|25[0-5]) of 256 datagrams .*DIFFERS: holes"
run sticky
expect sticky "framed: the server counted 200 messages of 200"
grep -qE "^=> naive: the server counted 200 messages" "$T/sticky.out" && fail "naive reader counted all 200"
expect sticky "naive: the server counted [0-9]+ messages of 200"
run iomodels
expect iomodels "inetd: 1 threads"
t=$(sed -n 's/^=> echo-threads: \([0-9]*\) threads/\1/p' "$T/iomodels.out")
[ "${t:-0}" -ge 200 ] || fail "iomodels: echo-threads had ${t:-?} threads for 200 connections"
grep -q "200 of 200 answered" "$T/iomodels.out" || fail "iomodels: not every request answered"
run firewall
expect firewall "drop: tcp 23 times out"
expect firewall "reject: tcp 13 refused"
expect firewall "reject: udp 7 gets ICMP port unreachable"
expect firewall "no rule: tcp 7 connects"
run lb
expect lb "round robin: backend1 2  backend2 2  backend3 2"
expect lb "backend2 down: 6 of 6 clients answered"
expect lb "backend2 restarted"
log "pass"
