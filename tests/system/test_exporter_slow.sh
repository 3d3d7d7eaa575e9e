#!/bin/bash
# test_exporter_slow.sh - slow and idle clients cannot keep scrapes out:
# 100 connections from 20 addresses trickle one header line a second (under
# the 3 s idle timeout, so they stay) while a normal scrape every half
# second must answer within 2 s; one address gets at most 8 connections;
# a connection that says nothing is closed after the idle timeout; the
# HTTP library's message for each of these clients is shown 10 times a
# minute at most, not once per client.
set -u
. "$(dirname "$0")/../lib/lab.sh"
lab_need curl

lab_up
P=$LAB_TMP/p.policy
printf 'default deny\nallow udp 5353\n' >"$P"
pc attach "$LAB_SIF" --policy "$P" >/dev/null || fail "attach"
ADDR=127.0.0.1:9477
lab_exporter "$ADDR"
EXP=$LAB_LAST_PID

lab_s "$LAB_PY" - "$ADDR" "$LAB_SIF" <<'PY' || fail "slow or idle clients (exporter log: $(tail -3 "$LAB_TMP/exporter.log"))"
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
port, ifname = int(port), sys.argv[2]

def conn(src, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((host, port))
    return s

def alive(s):
    """True while the server has not closed s."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)

def scrape():
    t = time.monotonic()
    s = conn("127.0.0.1", 2)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    took = time.monotonic() - t
    if b" 200 " not in data.split(b"\r\n", 1)[0]:
        sys.exit("scrape: no 200: %r" % data[:200])
    if ('portcullis_attached{interface="%s"' % ifname).encode() not in data:
        sys.exit("scrape: interface missing")
    return took

# a silent connection is dropped after the idle timeout
idle = conn("127.0.0.1")
# 100 tricklers, 5 from each of 127.0.0.2 - 127.0.0.21
slow = []
for i in range(100):
    s = conn("127.0.0.%d" % (2 + i // 5))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
# 20 from one address: 8 are kept, the others closed at once
crowd = [conn("127.0.0.50") for _ in range(20)]
for s in crowd:
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
    except OSError:
        pass
worst = 0.0
t0 = time.monotonic()
n = 0
while time.monotonic() - t0 < 10:
    for s in slow + crowd:
        try:
            s.sendall(b"X-Slow: %d\r\n" % n)
        except OSError:
            pass
    for _ in range(2):
        took = scrape()
        worst = max(worst, took)
        if took > 2:
            sys.exit("a scrape took %.2f s among 100 slow clients" % took)
        time.sleep(0.5)
    n += 1
held = sum(alive(s) for s in slow)
crowd_held = sum(alive(s) for s in crowd)
print("# %d scrapes, slowest %.3f s; slow clients still held: %d of 100; "
      "from one address: %d of 20" % (2 * n, worst, held, crowd_held))
if held < 90:
    sys.exit("only %d of 100 slow clients were still connected: the load was not there" % held)
print("ok - every scrape answered within 2 s while %d slow clients trickled" % held)
if crowd_held > 8:
    sys.exit("%d connections from one address held, want at most 8" % crowd_held)
print("ok - one address holds at most 8 connections (%d)" % crowd_held)
if alive(idle):
    sys.exit("a silent connection is still open after 10 s")
print("ok - a silent connection was closed")
PY
kill -0 "$EXP" || fail "exporter died"
n=$(grep -c '^portcullis exporter: http: ' "$LAB_TMP/exporter.log")
[ "$n" -ge 1 ] && [ "$n" -le 10 ] ||
	fail "$n HTTP messages in the exporter's log, want 1-10 a minute: $(sort "$LAB_TMP/exporter.log" | uniq -c | head -5)"
ok "HTTP messages in the log: $n for some 130 bad or slow clients"
echo "PASS"
