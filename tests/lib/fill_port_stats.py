#!/usr/bin/python3
# fill_port_stats.py PIN [SCALE]: set every per-CPU slot of the pinned
# port_stats map (struct pc_counter values, bpf/abi.h) through the bpf()
# syscall, one batch update, and print the expected sums as JSON:
#   {"packets": [[tcp pass, drop, audit], [udp ...]], "bytes": [...]}.
# packets = SCALE * (1 + (key*3 + cpu*5 + outcome) % 11), bytes =
# 100*packets + cpu, so every slot differs and is non-zero, and a fill with
# a larger SCALE (default 1) makes every counter grow. Used by the system tests that check
# stats and the exporter with every counter set.
import ctypes, json, platform, struct, sys

NR_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
BPF_OBJ_GET, BPF_MAP_UPDATE_BATCH = 7, 26
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), "bpf cmd %d" % cmd)
    return r


path = ctypes.create_string_buffer(sys.argv[1].encode())
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
fd = bpf(BPF_OBJ_GET, struct.pack("QII", ctypes.addressof(path), 0, 0))
possible = open("/sys/devices/system/cpu/possible").read().strip()
ncpu = int(possible.split(",")[-1].split("-")[-1]) + 1
N = 131072
tot = {"packets": [[0] * 3 for _ in range(2)], "bytes": [[0] * 3 for _ in range(2)]}
keys = struct.pack("%dI" % N, *range(N))
vals = bytearray()
for k in range(N):
    p = k // 65536
    for c in range(ncpu):
        pk = [scale * (1 + (k * 3 + c * 5 + o) % 11) for o in range(3)]
        by = [100 * x + c for x in pk]
        for o in range(3):
            tot["packets"][p][o] += pk[o]
            tot["bytes"][p][o] += by[o]
        vals += struct.pack("6Q", *(pk + by))
kb = ctypes.create_string_buffer(keys, len(keys))
vb = ctypes.create_string_buffer(bytes(vals), len(vals))
# attr: in_batch, out_batch, keys, values, count, map_fd, elem_flags, flags
bpf(BPF_MAP_UPDATE_BATCH, struct.pack("QQQQIIQQ", 0, 0, ctypes.addressof(kb),
                                      ctypes.addressof(vb), N, fd, 0, 0))
print(json.dumps(tot))
