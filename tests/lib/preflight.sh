# Sourced by test scripts: fail loudly (never skip) when the machine cannot
# run the tests: root, bpffs and a BPF/XDP-capable kernel are required.
pc_preflight() {
	if [ "$(id -u)" != 0 ]; then
		echo "error: tests need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): run as root" >&2
		return 1
	fi
	if [ ! -e /sys/kernel/btf/vmlinux ] && [ ! -d /sys/fs/bpf ]; then
		echo "error: this kernel has no BPF support visible (/sys/fs/bpf missing)" >&2
		return 1
	fi
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf || { echo "error: cannot mount bpffs on /sys/fs/bpf" >&2; return 1; }
	fi
	if ! bpftool prog show >/dev/null 2>&1; then
		echo "error: bpftool cannot list BPF programs: is BPF enabled in this kernel?" >&2
		return 1
	fi
	return 0
}
pc_preflight
