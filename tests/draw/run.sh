#!/bin/sh
# run.sh BUILD - what `make check-draw` runs: ustack-draw's pictures checked.
#
# Captures come from BUILD/tests/draw_mkcap (two stacks over memlink in
# virtual time, no root): a daytime connection (handshake, one line, both
# FINs: 8 segments) and a transfer under 5% loss. For each picture: it is
# valid XML with an <svg> root, it has one arrow (ladder) or bar (tseq) per
# segment, retransmissions are marked, --max-segments cuts. Golden files
# (tests/draw/golden/) pin the exact bytes for the small cases, made from
# the captures committed next to them. The state diagram has every
# transition of stack/proto/tcp_fsm.c as an edge, and docs/img/ holds the
# current one.
#
# DRAW_GOLDEN=1 (or `make draw-golden`) writes the golden files, the
# committed captures and docs/img/tcp-states.{dot,svg} instead of
# comparing: only after looking at the new pictures.
# Exit status 0 when every check holds. Touches only a temporary directory
# (and, with DRAW_GOLDEN=1, the golden files).
set -u

BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
D=$BUILD/bin/ustack-draw
MK=$BUILD/tests/draw_mkcap
PY="/usr/bin/python3 $TOP/tests/draw/svgcheck.py"
G=$TOP/tests/draw/golden
IMG=$TOP/docs/img
TMP=$(mktemp -d /tmp/ustack-draw.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
fail=0
n=0

for f in "$D" "$MK"; do
	if [ ! -x "$f" ]; then
		echo "check-draw: $f not built (make BUILD=$BUILD apps tests)" >&2
		exit 2
	fi
done

pass() { n=$((n + 1)); echo "  PASS draw $1"; }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "  FAIL draw $1"; }
# check NAME CMD...: one check
check() {
	name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then pass "$name"; else bad "$name"; sed 's/^/      /' "$TMP/out" | head -20; fi
}
# equal NAME WANT GOT
equal() {
	if [ "$2" = "$3" ]; then pass "$1 ($3)"; else bad "$1: wanted $2, got $3"; fi
}

# ---- regenerate ------------------------------------------------------------
if [ "${DRAW_GOLDEN:-0}" = 1 ]; then
	mkdir -p "$G" "$IMG"
	"$MK" daytime --pcap "$G/daytime.pcap" --trace "$G/daytime.log" || exit 1
	"$MK" bulk --bytes 30000 --seed 4 --pcap "$G/loss.pcap" --trace "$G/loss.log" || exit 1
	"$D" ladder --pcap "$G/daytime.pcap" --trace "$G/daytime.log" -o "$G/daytime-ladder.svg" || exit 1
	"$D" tseq --pcap "$G/loss.pcap" -o "$G/loss-tseq.svg" || exit 1
	"$D" ladder --pcap "$G/loss.pcap" --trace "$G/loss.log" -o "$G/loss-ladder.svg" || exit 1
	"$D" states --dot -o "$IMG/tcp-states.dot" || exit 1
	"$D" states -o "$IMG/tcp-states.svg" || exit 1
	echo "draw: golden files written in $G and $IMG; look at them before committing"
	exit 0
fi

# ---- fresh captures ---------------------------------------------------------
check "mkcap daytime" "$MK" daytime --pcap "$TMP/day.pcap" --trace "$TMP/day.log"
check "mkcap bulk under 5% loss" "$MK" bulk --bytes 100000 --seed 3 \
	--pcap "$TMP/bulk.pcap" --trace "$TMP/bulk.log"

# ---- ladder -----------------------------------------------------------------
check "ladder daytime" "$D" ladder --pcap "$TMP/day.pcap" --trace "$TMP/day.log" -o "$TMP/day.svg"
check "ladder daytime is valid SVG" $PY valid "$TMP/day.svg"
check "ladder daytime passes xmllint" xmllint --noout "$TMP/day.svg"
equal "daytime capture has handshake + line + two FINs" 8 "$($PY tcpsegs "$TMP/day.pcap")"
equal "ladder daytime: one arrow per segment" 8 "$($PY count "$TMP/day.svg" seg)"
equal "ladder daytime: nothing marked abnormal" 8 "$($PY count "$TMP/day.svg" seg.normal)"
# ustack's states come from the trace: each one there is written in bold
for st in LISTEN SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED; do
	if grep -q "class=\"st\"[^>]*>$st<" "$TMP/day.svg"; then pass "ladder daytime: ustack state $st"; else bad "ladder daytime: ustack state $st missing"; fi
done
# the peer's are inferred and marked so
for st in SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK; do
	if grep -q "class=\"inf\"[^>]*>$st?<" "$TMP/day.svg"; then pass "ladder daytime: inferred peer state $st?"; else bad "ladder daytime: inferred peer state $st? missing"; fi
done
check "ladder --port 13" "$D" ladder --pcap "$TMP/day.pcap" --port 13 -o "$TMP/day13.svg"
equal "ladder --port 13 without trace: same arrows" 8 "$($PY count "$TMP/day13.svg" seg)"

check "ladder bulk" "$D" ladder --pcap "$TMP/bulk.pcap" --trace "$TMP/bulk.log" -o "$TMP/bulk.svg"
check "ladder bulk is valid SVG" $PY valid "$TMP/bulk.svg"
segs=$($PY tcpsegs "$TMP/bulk.pcap")
equal "ladder bulk: one arrow per segment" "$segs" "$($PY count "$TMP/bulk.svg" seg)"
r=$($PY count "$TMP/bulk.svg" seg.retrans)
if [ "$r" -gt 0 ]; then pass "ladder bulk: $r retransmissions marked"; else bad "ladder bulk: no retransmission marked under 5% loss"; fi
check "mkcap bulk with 10% duplication" "$MK" bulk --bytes 50000 --loss 0 --dup 100000 \
	--seed 5 --pcap "$TMP/dup.pcap" --trace "$TMP/dup.log"
check "ladder dup" "$D" ladder --pcap "$TMP/dup.pcap" --trace "$TMP/dup.log" -o "$TMP/dup.svg"
r=$($PY count "$TMP/dup.svg" seg.dup)
if [ "$r" -gt 0 ]; then pass "ladder: $r network duplicates marked"; else bad "ladder: no duplicate marked under 10% duplication"; fi
equal "ladder dup: one arrow per segment" "$($PY tcpsegs "$TMP/dup.pcap")" "$($PY count "$TMP/dup.svg" seg)"
$PY craft-oow "$TMP/oow.pcap"
check "ladder crafted out-of-window" "$D" ladder --pcap "$TMP/oow.pcap" -o "$TMP/oow.svg"
equal "ladder: the segment beyond the window is marked" 1 "$($PY count "$TMP/oow.svg" seg.oow)"
equal "ladder: the receiver's repeated ACK is a dup ACK" 1 "$($PY count "$TMP/oow.svg" seg.dupack)"
equal "ladder: the rest are ordinary" 5 "$($PY count "$TMP/oow.svg" seg.normal)"
check "ladder --max-segments 20" "$D" ladder --pcap "$TMP/bulk.pcap" --max-segments 20 -o "$TMP/cut.svg"
equal "ladder --max-segments 20 draws 20" 20 "$($PY count "$TMP/cut.svg" seg)"
if grep -q "more segments not drawn" "$TMP/cut.svg"; then pass "ladder --max-segments: note"; else bad "ladder --max-segments: no note"; fi

# ---- time-sequence graph ----------------------------------------------------
check "tseq bulk" "$D" tseq --pcap "$TMP/bulk.pcap" -o "$TMP/tseq.svg"
check "tseq is valid SVG" $PY valid "$TMP/tseq.svg"
check "tseq passes xmllint" xmllint --noout "$TMP/tseq.svg"
bars=$(( $($PY paths "$TMP/tseq.svg" data) + $($PY paths "$TMP/tseq.svg" retrans) + $($PY paths "$TMP/tseq.svg" dup) ))
# every segment of the sender with data, SYN or FIN is a bar
want=$(tcpdump -nr "$TMP/bulk.pcap" 'tcp and src host 10.0.0.2 and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0)' 2>/dev/null | wc -l)
equal "tseq: one bar per segment sent" "$want" "$bars"
r=$($PY paths "$TMP/tseq.svg" retrans)
if [ "$r" -gt 0 ]; then pass "tseq: $r retransmissions in their colour"; else bad "tseq: no retransmission drawn"; fi

# ---- golden files -------------------------------------------------------------
golden() {
	"$@" -o "$TMP/g.svg" >"$TMP/out" 2>&1 || { bad "golden $name: exit $?"; return; }
	if cmp -s "$TMP/g.svg" "$want"; then pass "golden $name"; else
		bad "golden $name differs (DRAW_GOLDEN=1 $0 to accept after looking)"
		diff "$want" "$TMP/g.svg" | head -20 | sed 's/^/      /'
	fi
}
name=daytime-ladder want=$G/daytime-ladder.svg golden "$D" ladder --pcap "$G/daytime.pcap" --trace "$G/daytime.log"
name=loss-ladder want=$G/loss-ladder.svg golden "$D" ladder --pcap "$G/loss.pcap" --trace "$G/loss.log"
name=loss-tseq want=$G/loss-tseq.svg golden "$D" tseq --pcap "$G/loss.pcap"

# ---- state diagram -----------------------------------------------------------
if command -v dot >/dev/null 2>&1; then
	check "states" "$D" states -o "$TMP/states.svg"
	check "states is valid SVG" $PY valid "$TMP/states.svg"
	check "states: every transition of tcp_fsm.c is an edge" \
		$PY edges "$TMP/states.svg" "$TOP/stack/proto/tcp_fsm.c"
	check "states --counts from a trace" "$D" states --counts "$TMP/day.log" -o "$TMP/counts.svg"
	if grep -q "SYN received (child TCB): send SYN&#45;ACK" "$TMP/counts.svg" &&
	   grep -q "(1×)" "$TMP/counts.svg"; then pass "states --counts: edges counted"; else bad "states --counts: no counts on the edges"; fi
	printf 'ESTABLISHED CLOSE_WAIT 7\n' >"$TMP/c.txt"
	check "states --counts FROM TO COUNT" "$D" states --counts "$TMP/c.txt" -o "$TMP/c.svg"
	if grep -q "(7×)" "$TMP/c.svg"; then pass "states --counts: 7"; else bad "states --counts: 7 missing"; fi
	printf 'CLOSED TIME_WAIT 1\n' >"$TMP/c.txt"
	if "$D" states --counts "$TMP/c.txt" -o "$TMP/c.svg" 2>/dev/null; then bad "states --counts: an impossible transition accepted"; else pass "states --counts: an impossible transition refused"; fi
	check "docs/img/tcp-states.svg has every transition" \
		$PY edges "$IMG/tcp-states.svg" "$TOP/stack/proto/tcp_fsm.c"
else
	echo "  SKIP draw states: graphviz's dot is not installed (tests/tools/deps.sh)"
fi
"$D" states --dot -o "$TMP/states.dot"
if cmp -s "$TMP/states.dot" "$IMG/tcp-states.dot"; then pass "docs/img/tcp-states.dot is up to date"; else
	bad "docs/img/tcp-states.dot is out of date with the table: make draw-golden"
fi

# docs/tcp.md's text list of the table is the table
"$D" states --text -o "$TMP/states.txt"
awk '/ustack-draw states --text/ { f = 1 } f == 2 && /^```/ { exit } f == 2 { print }
     f == 1 && /^```/ { f = 2 }' "$TOP/docs/tcp.md" >"$TMP/tcpmd.txt"
if [ -s "$TMP/tcpmd.txt" ] && cmp -s "$TMP/states.txt" "$TMP/tcpmd.txt"; then pass "docs/tcp.md's transition list is the table"; else
	bad "docs/tcp.md's transition list differs from ustack-draw states --text"
	diff "$TMP/tcpmd.txt" "$TMP/states.txt" | head -10 | sed 's/^/      /'
fi
check "docs/img/*.svg are valid SVG" $PY valid "$IMG"/*.svg

# ---- bad input ----------------------------------------------------------------
if "$D" --help | grep -q "^Usage: ustack-draw ladder"; then pass "--help"; else bad "--help"; fi
if "$D" --version | grep -q "^ustack-draw (ustack) "; then pass "--version"; else bad "--version"; fi
"$D" pie --pcap "$TMP/day.pcap" -o "$TMP/x.svg" 2>"$TMP/err"
rc=$?
if [ $rc = 2 ] && grep -q usage "$TMP/err"; then pass "unknown picture: exit 2 with usage"; else bad "unknown picture: exit $rc"; fi
"$D" ladder --pcap "$TMP/day.pcap" --conn 5 -o "$TMP/x.svg" 2>/dev/null
equal "no such connection: exit 1" 1 $?
"$D" ladder --pcap "$TMP/day.pcap" 2>/dev/null
equal "no -o: exit 2" 2 $?
head -c 100 "$TMP/bulk.pcap" >"$TMP/short.pcap"
"$D" tseq --pcap "$TMP/short.pcap" -o "$TMP/x.svg" 2>/dev/null
rc=$?
if [ "$rc" -le 1 ]; then pass "truncated capture: exit $rc, no crash"; else bad "truncated capture: exit $rc"; fi
printf 'not a capture' >"$TMP/junk.pcap"
"$D" ladder --pcap "$TMP/junk.pcap" -o "$TMP/x.svg" 2>/dev/null
equal "not a capture: exit 1" 1 $?

echo "draw: $n checks, $fail failed"
[ "$fail" -eq 0 ]
