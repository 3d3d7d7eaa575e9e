#!/usr/bin/python3
# fill_counters.py PIN_DIR [SCALE]: set every counter of every CPU's row of
# the pinned counter_rows map (struct pc_counter_row, bpf/abi.h) through
# its mmap: both halves of every port and every counter slot, and print
# the sums stats should show, as JSON:
#   {"packets": [[tcp pass, drop, audit], [udp ...]], "bytes": [...]}
# packets: over the port rows (a port with a slot of its own shows that
# slot's audited packets, taken from its passed half); bytes: over the
# range classes (the slots of each class). Half h of port k on CPU c =
# SCALE * (1 + (k*3 + c*5 + h) % 11); slot s outcome o: SCALE * (1 + (s*3 +
# c*5 + o) % 11) packets, 100 * packets + c bytes. A fill with a larger
# SCALE (default 1) makes every counter grow. Used by the system tests that
# check stats and the exporter with every counter set.
import array, ctypes, json, mmap, os, platform, struct, sys

NR_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
BPF_MAP_LOOKUP_ELEM, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD = 1, 7, 15
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
N, SLOTS = 131072, 1024


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), "bpf cmd %d" % cmd)
    return r


def obj_get(path):
    p = ctypes.create_string_buffer(path.encode())
    return bpf(BPF_OBJ_GET, struct.pack("QII", ctypes.addressof(p), 0, 0))


def map_info(fd):
    info = ctypes.create_string_buffer(80)
    bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("IIQ", fd, 80, ctypes.addressof(info)))
    # type, id, key_size, value_size, max_entries
    return struct.unpack_from("IIIII", info.raw)


pin_dir = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rows_fd = obj_get(os.path.join(pin_dir, "counter_rows"))
slots_fd = obj_get(os.path.join(pin_dir, "counter_slots"))
_, _, _, row_size, ncpu = map_info(rows_fd)
row_size = (row_size + 7) // 8 * 8
assert row_size >= 48 * SLOTS + 8 * N, "a lean row: no port halves to fill"
key = ctypes.create_string_buffer(struct.pack("I", 0), 4)
keys = ctypes.create_string_buffer(8 * SLOTS)
bpf(BPF_MAP_LOOKUP_ELEM, struct.pack("IIQQ", slots_fd, 0, ctypes.addressof(key),
                                     ctypes.addressof(keys)))
slot_key = struct.unpack("%dI" % (2 * SLOTS), keys.raw)
length = (ncpu * row_size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
m = mmap.mmap(rows_fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

half_sum = [[0, 0] for _ in range(N)]
slot_pk = [[0, 0, 0] for _ in range(SLOTS)]
slot_by = [[0, 0, 0] for _ in range(SLOTS)]
for c in range(ncpu):
    halves = array.array("I", (scale * (1 + (i // 2 * 3 + c * 5 + i % 2) % 11)
                               for i in range(2 * N)))
    for k in range(N):
        half_sum[k][0] += halves[2 * k]
        half_sum[k][1] += halves[2 * k + 1]
    vals = array.array("Q")
    for s in range(SLOTS):
        pk = [scale * (1 + (s * 3 + c * 5 + o) % 11) for o in range(3)]
        by = [100 * x + c for x in pk]
        for o in range(3):
            slot_pk[s][o] += pk[o]
            slot_by[s][o] += by[o]
        vals.extend(pk + by)
    base = c * row_size	# slots first, the port halves last
    m[base:base + 48 * SLOTS] = vals.tobytes()
    m[base + row_size - 8 * N:base + row_size] = halves.tobytes()
m.close()


def range_class(port):
    return 0 if port <= 1023 else 1 if port <= 49151 else 2


own = {}
tot = {"packets": [[0] * 3 for _ in range(2)], "bytes": [[0] * 3 for _ in range(2)]}
for s in range(SLOTS):
    lo, hi = slot_key[2 * s], slot_key[2 * s + 1]
    if s < 6:
        p = s // 3
    elif lo:
        p = (lo - 1) // 65536
        if lo == hi:
            own[lo - 1] = s
    else:
        continue
    for o in range(3):
        tot["bytes"][p][o] += slot_by[s][o]
for k in range(N):
    p = k // 65536
    passed, dropped = half_sum[k]
    audit = min(slot_pk[own[k]][2], passed) if k in own else 0
    tot["packets"][p][0] += passed - audit
    tot["packets"][p][1] += dropped
    tot["packets"][p][2] += audit
print(json.dumps(tot))
