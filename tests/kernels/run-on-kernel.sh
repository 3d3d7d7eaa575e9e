#!/bin/bash
# run-on-kernel.sh - run a command against this checkout on another kernel.
#
# Fetches a Debian kernel package (default: the newest Linux 6.1 that
# apt knows as linux-image-amd64, i.e. bookworm's stock kernel), boots it
# under QEMU/KVM (TCG with --tcg) with a small busybox initramfs, and runs
# the command inside the guest, as root, in the repo checkout. The guest's root file system is
# this host's / shared read-only over 9p with a tmpfs overlay on top (so the
# guest sees the host's userland and the checkout, and whatever it writes,
# build/ included, is thrown away when it powers off); the kernel's modules
# are shared at /lib/modules/VERSION, so module autoloading works. The guest
# has no network device: only its own loopback, veths and namespaces.
#
# Usage: tests/kernels/run-on-kernel.sh [options] [--] COMMAND [ARG...]
#   e.g. tests/kernels/run-on-kernel.sh -- make test
#        tests/kernels/run-on-kernel.sh -- bash -c 'TESTS=lifecycle tests/run.sh'
# Options:
#   --repo DIR          checkout to run in (default: the one holding this script)
#   --kernel-series S   Debian kernel series to pick (default 6.1)
#   --kernel-pkg PKG    exact package, e.g. linux-image-6.1.0-57-amd64
#   --tcg               allow software emulation when KVM is unusable
#   --smp N, --mem SIZE guest CPUs (default 2) and memory (default 2G)
#   --append ARGS       more kernel command line, e.g. possible_cpus=256
#                       (CPUs the kernel counts as possible, not online)
#   --timeout SECS      kill the guest after this long (default 3600)
#   --cache DIR         where packages and initramfs are kept
#                       (default ${TMPDIR:-/tmp}/run-on-kernel-cache)
#   --keep              keep the run directory (console.log, status; the
#                       guest may write files for the host to /run/rok)
# Environment: ROK_KVM_CPU overrides QEMU's -cpu under KVM (default
# host,-arch-capabilities: some nested hypervisors refuse that MSR).
# Prints the guest's console (kernel and command output) and exits with the
# command's exit status; 125 when the guest never reported one (boot
# failure, panic, timeout); 2 on a usage or setup error.
set -euo pipefail

die() { echo "run-on-kernel: error: $*" >&2; exit 2; }
log() { echo "run-on-kernel: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
series=6.1
kpkg=
tcg=0
smp=2
mem=2G
append=
timeout_s=3600
cache=${TMPDIR:-/tmp}/run-on-kernel-cache
keep=0

while [ $# -gt 0 ]; do
	case "$1" in
	--repo) repo=$(cd "${2:?--repo needs a directory}" && pwd); shift 2 ;;
	--kernel-series) series=${2:?}; shift 2 ;;
	--kernel-pkg) kpkg=${2:?}; shift 2 ;;
	--tcg) tcg=1; shift ;;
	--smp) smp=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--append) append=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--cache) cache=${2:?}; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "no command given (see --help)"
[ "$(id -u)" = 0 ] || die "must run as root (apt-get, KVM, 9p export of /)"

# --- accelerator: KVM, or TCG only when asked for ---------------------------
# /dev/kvm alone is not enough: a host whose CPU shows no vmx/svm may offer
# a /dev/kvm that boots only specially built guests (e.g. kvm_pvm, which runs
# PVM guest kernels only: a stock kernel hangs right after "Probing EDD").
kvm_why=
if [ ! -e /dev/kvm ]; then
	kvm_why="/dev/kvm is missing"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	kvm_why="/dev/kvm is not accessible"
elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
	mods=$(cd /sys/module && echo kvm_*)
	kvm_why="/dev/kvm is there but the CPU has no vmx/svm (modules: $mods), so it cannot boot a stock kernel"
fi
if [ -z "$kvm_why" ]; then
	accel=(-accel kvm -cpu "${ROK_KVM_CPU:-host,-arch-capabilities}")
elif [ "$tcg" = 1 ]; then
	log "$kvm_why: using TCG emulation (slow)"
	accel=(-accel 'tcg,thread=multi' -cpu max)
else
	die "$kvm_why: this needs hardware KVM (pass --tcg to emulate, much slower)"
fi

# --- host tools --------------------------------------------------------------
# qemu-system-x86: the VM; busybox-static: the initramfs; kmod: modprobe for
# the guest (which runs the host's userland); cpio: the initramfs archive.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
command -v modprobe >/dev/null && command -v depmod >/dev/null || need+=(kmod)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "apt-get install ${need[*]} failed"
fi

# --- kernel package ----------------------------------------------------------
# Default: the newest linux-image-amd64 (metapackage) version in $series.x,
# and the versioned image package it depends on.
newest_in_series() {	# the image package of the newest linux-image-amd64 in $series
	apt-cache show linux-image-amd64 2>/dev/null | awk -v s="$series." '
		/^Version: / { v = $2 }
		/^Depends: / && index(v, s) == 1 { sub(/^Depends: */, ""); sub(/[ ,(].*/, ""); print v, $0 }' |
		sort -V | tail -1 | cut -d' ' -f2
}
if [ -z "$kpkg" ]; then
	kpkg=$(newest_in_series)
	[ -n "$kpkg" ] || { apt-get update >/dev/null 2>&1 || true; kpkg=$(newest_in_series); }
	[ -n "$kpkg" ] || die "apt knows no linux-image-amd64 in series $series (is this a Debian release that has it?)"
fi
mkdir -p "$cache"
kdir=$cache/$kpkg
if [ ! -f "$kdir/.done" ]; then
	log "fetching $kpkg"
	rm -rf "$kdir" "$kdir.dl"; mkdir -p "$kdir.dl"
	(cd "$kdir.dl" && apt-get download -o APT::Sandbox::User=root "$kpkg" >/dev/null) ||
		die "apt-get download $kpkg failed"
	dpkg-deb -x "$kdir.dl"/*.deb "$kdir"
	cp "$kdir.dl"/*.deb "$kdir/"; rm -rf "$kdir.dl"
	touch "$kdir/.done"
fi
kver=$(ls "$kdir/lib/modules" | head -1)
[ -n "$kver" ] && [ -f "$kdir/boot/vmlinuz-$kver" ] || die "$kpkg has no vmlinuz/modules"
mdir=$kdir/lib/modules/$kver
# The .deb ships no modules.dep (its postinst runs depmod): make it here.
[ -f "$mdir/modules.dep" ] || depmod -b "$kdir" "$kver" || die "depmod for $kver failed"

# --- initramfs: busybox, the modules that mount 9p and overlayfs, /init ------
initrd=$kdir/initrd-rok.cpio.gz
if [ ! -f "$initrd" ] || [ "$initrd" -ot "$0" ]; then
	log "building initramfs for $kver"
	ir=$(mktemp -d "$cache/initrd.XXXXXX")
	mkdir -p "$ir"/{bin,dev,proc,sys,modules,lower,upper,newroot}
	cp /bin/busybox "$ir/bin/busybox"
	# load order: every module after the modules it depends on
	declare -A seen=()
	order=()
	add_mod() {	# $1: path relative to $mdir
		local m=$1 d
		[ -n "${seen[$m]:-}" ] && return 0
		seen[$m]=1
		for d in $(awk -v m="$m:" '$1 == m { $1 = ""; print }' "$mdir/modules.dep"); do
			add_mod "$d"
		done
		order+=("$m")
	}
	for name in virtio_pci 9pnet_virtio 9p overlay; do
		p=$(awk -F: -v n="$name" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko.*/, "", f); gsub(/-/, "_", f) }
			f == n { print $1; exit }' "$mdir/modules.dep")
		[ -n "$p" ] || die "module $name not in $kver's modules.dep (built in?)"
		add_mod "$p"
	done
	: > "$ir/modules/order"
	for m in "${order[@]}"; do
		b=$(basename "$m")
		case "$b" in
		*.ko.xz) xz -dc "$mdir/$m" > "$ir/modules/${b%.xz}"; b=${b%.xz} ;;
		*.ko.zst) zstd -qdc "$mdir/$m" > "$ir/modules/${b%.zst}"; b=${b%.zst} ;;
		*.ko.gz) gzip -dc "$mdir/$m" > "$ir/modules/${b%.gz}"; b=${b%.gz} ;;
		*) cp "$mdir/$m" "$ir/modules/$b" ;;
		esac
		echo "$b" >> "$ir/modules/order"
	done
	cat > "$ir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "rok-init: FAILED: $*"; echo "@@ROK-EXIT 125@@"; poweroff -f; sleep 5; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/order); do insmod "/modules/$m" || fail "insmod $m"; done
kver=$(uname -r)
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts,ro" hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 tmpfs /upper || fail "tmpfs upper"
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot ||
	fail "overlay root"
mkdir -p "/newroot/usr/lib/modules/$kver"
mount -t 9p -o "$opts,ro" modules "/newroot/usr/lib/modules/$kver" || fail "mount 9p modules"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "tmpfs /run"
mkdir -p /newroot/run/rok
mkdir -p /newroot/run/rok-bin && cp /bin/busybox /newroot/run/rok-bin/busybox	# in RAM: powers off with 9p gone
mount -t 9p -o "$opts" rok /newroot/run/rok || fail "mount 9p rok"
for d in proc sys dev; do mount --move "/$d" "/newroot/$d" || fail "move /$d"; done
exec switch_root /newroot /bin/bash /run/rok/guest.sh
fail "switch_root"
EOF
	chmod 0755 "$ir/init"
	(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$ir"
fi

# --- the run: a shared directory with the guest's script and its status -----
run=$(mktemp -d "$cache/run.XXXXXX")
qpid=
cleanup() {
	local rc=$?
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		# $qpid is timeout(1): it passes the signal on to QEMU
		kill "$qpid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
		if kill -0 "$qpid" 2>/dev/null; then
			pkill -KILL -P "$qpid" 2>/dev/null || true
			kill -KILL "$qpid" 2>/dev/null || true
		fi
	fi
	if [ "$keep" = 1 ]; then log "run directory kept: $run"; else rm -rf "$run"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cmd=$(printf '%q ' "$@")
{
	echo '#!/bin/bash'
	echo "# PID 1 of the guest (after switch_root): set up, run the command, power off"
	printf 'export PATH=%q\n' "$PATH"
	printf 'repo=%q\n' "$repo"
	cat <<'EOF'
export HOME=/root TERM=dumb LANG=C.UTF-8
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname rok-guest
ip link set lo up
echo "@@ROK-BOOTED kernel $(uname -r) $(cat /proc/uptime | cut -d' ' -f1)s@@"
cd "$repo" || { echo "@@ROK-EXIT 125@@"; echo 125 > /run/rok/status; exec /run/rok-bin/busybox poweroff -f; }
EOF
	echo "$cmd </dev/null"
	cat <<'EOF'
rc=$?
echo "@@ROK-EXIT $rc@@"
echo "$rc" > /run/rok/status
sync
exec /run/rok-bin/busybox poweroff -f
EOF
} > "$run/guest.sh"
chmod 0755 "$run/guest.sh"

log "booting $kpkg ($kver) with ${accel[1]}, $smp CPUs, $mem; command: $cmd"
t0=$(date +%s)
timeout -k 10 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -m "$mem" -smp "$smp" \
	-nodefaults -display none -no-reboot -nic none \
	-chardev "stdio,id=con,signal=off,logfile=$run/console.log" -serial chardev:con \
	-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
	-append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init${append:+ $append}" \
	-fsdev "local,id=fs0,path=/,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=fs0,mount_tag=hostroot \
	-fsdev "local,id=fs1,path=$mdir,security_model=none,readonly=on" \
	-device virtio-9p-pci,fsdev=fs1,mount_tag=modules \
	-fsdev "local,id=fs2,path=$run,security_model=none" \
	-device virtio-9p-pci,fsdev=fs2,mount_tag=rok \
	</dev/null &
qpid=$!
# the guest powers itself off; timeout(1) ends it past --timeout
qrc=0; wait "$qpid" || qrc=$?
qpid=
t1=$(date +%s)
if [ -s "$run/status" ]; then
	status=$(cat "$run/status")
	log "guest command exited $status (guest ran $((t1 - t0))s, qemu exit $qrc)"
	exit "$status"
fi
log "guest reported no exit status (boot failure, panic or timeout after $((t1 - t0))s; qemu exit $qrc)"
exit 125
