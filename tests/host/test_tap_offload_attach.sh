#!/bin/bash
# --offload auto on a TAP device that already exists (docs/drivers.md):
# offloads on when the device was made with vnet_hdr (`ip tuntap add ...
# vnet_hdr`), off when it was made without. Each time ustack-inetd
# attaches, says so on its startup line ("offloads tso gro" or nothing),
# and 8 MiB go from the kernel into its discard port and 4 MiB come back
# from chargen, so the frames on the fd match what was agreed.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it (and the TAPs in it);
# inetd and the kernel side run inside it (start_app, nsx).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd
setup

# run_case VNET(0|1): make tap0 (persistent) as asked, attach, check.
run_case() {
	local vnet=$1 line extra=""
	[ "$vnet" = 1 ] && extra=vnet_hdr
	ip -n "$NS" tuntap add dev tap0 mode tap $extra || fail "tuntap add"
	ip -n "$NS" addr add "$KS/24" dev tap0
	ip -n "$NS" link set tap0 up
	start_app inetd --offload auto
	wait_ready
	line=$(grep -m1 " on tap0" "$T/inetd.err")
	case $vnet:$line in
	1:*"offloads tso gro"*) ;;
	0:*offloads*) fail "offloads on for a device made without vnet_hdr: $line" ;;
	0:*) ;;
	*) fail "no offloads on a device made with vnet_hdr: $line" ;;
	esac
	case $line in *"(created)"*) fail "tap0 existed: $line" ;; esac
	head -c $((8 << 20)) /dev/zero | timeout 30 ip netns exec "$NS" nc -N "$US" 9 ||
		fail "8 MiB into discard (vnet_hdr $vnet)"
	n=$(timeout 30 ip netns exec "$NS" nc "$US" 19 </dev/null | head -c $((4 << 20)) | wc -c)
	[ "$n" = $((4 << 20)) ] || fail "chargen gave $n bytes (vnet_hdr $vnet)"
	stop_pid "$APP_PID"
	PIDS=$(echo " $PIDS " | sed "s/ $APP_PID / /")
	ip -n "$NS" tuntap del dev tap0 mode tap || fail "tuntap del"
	log "vnet_hdr $vnet: ${line#*: }"
}
run_case 1
run_case 0
echo "PASS: $TEST"
