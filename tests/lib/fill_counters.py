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
import array, json, mmap, os, struct, sys

from pcbpf import lookup, map_info, obj_get

N, SLOTS = 131072, 1024


pin_dir = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rows_fd = obj_get(os.path.join(pin_dir, "counter_rows"))
slots_fd = obj_get(os.path.join(pin_dir, "counter_slots"))
_, _, _, row_size, ncpu = map_info(rows_fd)
row_size = (row_size + 7) // 8 * 8
assert row_size >= 48 * SLOTS + 8 * N, "a lean row: no port halves to fill"
slot_key = struct.unpack("%dI" % (2 * SLOTS), lookup(slots_fd, struct.pack("I", 0), 8 * SLOTS))
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
