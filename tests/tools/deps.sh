#!/bin/sh
# Install the Debian packages ustack builds and tests with, when missing.
# Runs apt-get only as root and only for what is not installed yet.
set -eu
PKGS="build-essential pkg-config libpcap-dev check clang llvm valgrind gcovr \
iproute2 iputils-ping tcpdump tshark socat curl netcat-openbsd wrk iperf3 \
python3 python3-scapy python3-pytest procps libclang-rt-14-dev \
graphviz libxml2-utils"
# the live page's browser test (tests/host/test_httpd_live.sh): chromium,
# and node with npm for playwright-core. A machine whose node comes from
# elsewhere (nodesource's nodejs bundles npm and conflicts with Debian's
# npm package) keeps it: those two are asked for only when missing.
PKGS="$PKGS chromium"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
# programs run on ustack by the preload tests (tests/host/test_preload_*.sh)
PKGS="$PKGS wget redis-server redis-tools nginx-light memcached"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root (sudo make ...) to install them, or: sudo apt-get install$missing" >&2
	exit 0
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -q || true
# The servers among them (redis, nginx, memcached) are programs the tests
# start themselves inside network namespaces: keep their packages from
# starting system services on the host while installing (policy-rc.d).
prc=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	prc=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc"
fi
rc=0
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || rc=$?
[ -n "$prc" ] && rm -f "$prc"
exit $rc
