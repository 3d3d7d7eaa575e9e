# tests/lib/pcbpf.py - the bpf(2) calls the Python helpers of the tests
# make (fill_counters.py, test_droplog.sh) on pinned maps, through ctypes:
# no BPF library needed. Every call raises OSError on failure.
import ctypes, platform, struct

NR_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
BPF_MAP_LOOKUP_ELEM, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD = 1, 7, 15
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), "bpf cmd %d" % cmd)
    return r


def obj_get(path):
    """A new fd of the object pinned at path."""
    p = ctypes.create_string_buffer(path.encode())
    return bpf(BPF_OBJ_GET, struct.pack("QII", ctypes.addressof(p), 0, 0))


def lookup(fd, key, size):
    """The value (size bytes) of key (bytes) in map fd."""
    k = ctypes.create_string_buffer(key, len(key))
    val = ctypes.create_string_buffer(size)
    bpf(BPF_MAP_LOOKUP_ELEM, struct.pack("IIQQQ", fd, 0, ctypes.addressof(k),
                                         ctypes.addressof(val), 0))
    return val.raw


def map_info(fd):
    """(type, id, key_size, value_size, max_entries) of map fd."""
    info = ctypes.create_string_buffer(80)
    bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("IIQ", fd, 80, ctypes.addressof(info)))
    return struct.unpack_from("IIIII", info.raw)
