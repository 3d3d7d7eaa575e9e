#!/bin/sh
# Install the Debian packages portcullis needs to build, test and demo.
# Installs only what is missing; needs root.
set -e
PKGS="clang llvm libbpf-dev libxdp-dev libelf-dev zlib1g-dev bpftool pkg-config make gcc libc6-dev
libcmocka-dev libjansson-dev libmicrohttpd-dev netbase iproute2 ethtool socat netcat-openbsd
tcpdump iputils-ping curl python3 python3-scapy jq xdp-tools nftables iptables iperf3 prometheus util-linux procps
systemd hping3 nmap strace libclang-rt-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "error: missing packages:$missing; run as root (or: apt-get install$missing)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
