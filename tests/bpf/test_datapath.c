// SPDX-License-Identifier: GPL-2.0
/*
 * test_datapath - the XDP program under BPF_PROG_TEST_RUN, case by case
 * (SPEC section 2 and the section 7 pitfalls). The maps are filled by the
 * loader's own code: pc_policy_parse + pc_compile, pc_load_unattached, then
 * pc_publish for every change of policy.
 *
 * Each table case states the frame, the expected verdict and the one
 * counter it must move. The runner checks, for every case:
 *   - the reference classifier (tests/lib/refclass.c) agrees with the table
 *     (so the table and the contract reading stay honest),
 *   - the program returns that verdict, never XDP_ABORTED,
 *   - exactly that counter entry's slot moved by +1 packet and +len bytes
 *     and nothing else in port_stats or bucket_stats changed.
 * Then sweeps: every truncation length of every header shape, and IPv6
 * extension chains of 1 .. PC_MAX_IPV6_EXT + 3 headers; their expectations
 * come from a second, independent statement of where each header ends, and
 * from the reference classifier. Last, corrupt bytes written straight into
 * the live half (verdict 2 / 0xff, mode 2, gen with high bits) must fail
 * closed as abi.h says. Every run also checks the frame comes back
 * unchanged (tk_run).
 *
 * Exit 0 when everything matched; prints a closing summary either way.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/instance.h"
#include "loader/instance_priv.h"	/* pc_nodes_map */
#include "tests/lib/packet.h"
#include "tests/lib/refclass.h"
#include "tests/lib/testkit.h"

/* ---- policies ---- */
enum { P_MAIN, P_FRAG_ALLOW, P_LOCKDOWN, P_AUDIT, P_COUNT };

static const char *const policy_text[P_COUNT] = {
	[P_MAIN] =
		"# the everyday policy: default deny, ICMP on, fragments off\n"
		"default deny\n"
		"icmp allow\n"
		"other allow\n"
		"fragments deny\n"
		"allow tcp 80,443\n"
		"allow udp 53\n"
		"deny tcp 22 from 10.9.0.0/16\n"
		"allow tcp 22 from 10.0.0.0/8, 2001:db8::/32\n"
		"allow tcp 8000-8100\n"
		"deny tcp 5432 from 10.1.0.0/16\n"
		"allow tcp,udp 5432 from 10.0.0.0/8 fd00::/8\n"
		"allow udp dynamic\n",
	[P_FRAG_ALLOW] =
		"default deny\n"
		"fragments allow\n"
		"allow tcp 80\n"
		"deny tcp 23\n",
	[P_LOCKDOWN] =
		"# everything that can be denied is denied\n"
		"default deny\n"
		"icmp deny\n"
		"other deny\n"
		"fragments deny\n",
	[P_AUDIT] =
		"mode audit\n"
		"default deny\n"
		"icmp deny\n"
		"other deny\n"
		"fragments deny\n"
		"allow tcp 80\n",
};

static const char *const policy_name[P_COUNT] = {
	"main", "frag-allow", "lockdown", "audit",
};

/* ---- expectations ---- */
#define PASS XDP_PASS
#define DROP XDP_DROP
#define TCP(port) 1, (0 * PC_NUM_PORTS + (port))
#define UDP(port) 1, (1 * PC_NUM_PORTS + (port))
#define BUCKET(b) 0, (PC_BUCKET_##b)
#define S_PASS PC_OUT_PASS
#define S_DROP PC_OUT_DROP
#define S_AUDIT PC_OUT_AUDIT

struct dp_case {
	const char *name;
	int policy;
	struct pkt_desc f;
	int cut;		/* > 0: truncate the built frame to cut bytes */
	int action;
	int in_ports;
	uint32_t index;
	int outcome;
};

#define V4(...) { .family = 4, __VA_ARGS__ }
#define V6(...) { .family = 6, __VA_ARGS__ }
#define L2(...) { .family = 0, __VA_ARGS__ }
#define Q1 .tags = { 0x8100 }
#define QINQ .tags = { 0x88a8, 0x8100 }
#define EXT(...) .ext = { __VA_ARGS__ }, .n_ext = sizeof((uint8_t[]){ __VA_ARGS__ })

static const struct dp_case cases[] = {
	/* --- TCP / UDP by port, IPv4 and IPv6 --- */
	{ "v4 tcp 80 allowed by 'allow tcp 80,443'", P_MAIN,
	  V4(.proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v6 tcp 443 allowed", P_MAIN,
	  V6(.proto = 6, .dport = 443), 0, PASS, TCP(443), S_PASS },
	{ "v4 tcp 23 no rule: default deny", P_MAIN,
	  V4(.proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "v6 tcp 23 no rule: default deny", P_MAIN,
	  V6(.proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "v4 udp 53 allowed", P_MAIN,
	  V4(.proto = 17, .dport = 53), 0, PASS, UDP(53), S_PASS },
	{ "v6 udp 53 allowed", P_MAIN,
	  V6(.proto = 17, .dport = 53), 0, PASS, UDP(53), S_PASS },
	{ "v4 tcp 53: udp rule does not cover tcp", P_MAIN,
	  V4(.proto = 6, .dport = 53), 0, DROP, TCP(53), S_DROP },
	{ "v4 udp 80: tcp rule does not cover udp", P_MAIN,
	  V4(.proto = 17, .dport = 80), 0, DROP, UDP(80), S_DROP },
	{ "udp 49152 first port of class dynamic allowed", P_MAIN,
	  V4(.proto = 17, .dport = 49152), 0, PASS, UDP(49152), S_PASS },
	{ "udp 65535 last port of class dynamic allowed", P_MAIN,
	  V6(.proto = 17, .dport = 65535), 0, PASS, UDP(65535), S_PASS },
	{ "udp 49151 (registered) denied", P_MAIN,
	  V4(.proto = 17, .dport = 49151), 0, DROP, UDP(49151), S_DROP },
	{ "tcp range 8000-8100: 8000 allowed", P_MAIN,
	  V4(.proto = 6, .dport = 8000), 0, PASS, TCP(8000), S_PASS },
	{ "tcp range 8000-8100: 8100 allowed", P_MAIN,
	  V4(.proto = 6, .dport = 8100), 0, PASS, TCP(8100), S_PASS },
	{ "tcp range 8000-8100: 7999 denied", P_MAIN,
	  V4(.proto = 6, .dport = 7999), 0, DROP, TCP(7999), S_DROP },
	{ "tcp range 8000-8100: 8101 denied", P_MAIN,
	  V4(.proto = 6, .dport = 8101), 0, DROP, TCP(8101), S_DROP },
	{ "tcp port 0: default, counted at port 0", P_MAIN,
	  V4(.proto = 6, .dport = 0), 0, DROP, TCP(0), S_DROP },

	/* --- sources: prefixes, overlaps, first match --- */
	{ "tcp 22 from 10.1.2.3, inside 10.0.0.0/8: allowed", P_MAIN,
	  V4(.proto = 6, .dport = 22, .src = "10.1.2.3"), 0, PASS, TCP(22), S_PASS },
	{ "tcp 22 from 11.0.0.1, outside every prefix: default deny", P_MAIN,
	  V4(.proto = 6, .dport = 22, .src = "11.0.0.1"), 0, DROP, TCP(22), S_DROP },
	{ "tcp 22 from 10.9.1.1: deny 10.9/16 comes first, overlaps allow 10/8", P_MAIN,
	  V4(.proto = 6, .dport = 22, .src = "10.9.1.1"), 0, DROP, TCP(22), S_DROP },
	{ "tcp 22 from 10.10.0.1: next to 10.9/16, allowed by 10/8", P_MAIN,
	  V4(.proto = 6, .dport = 22, .src = "10.10.0.1"), 0, PASS, TCP(22), S_PASS },
	{ "tcp 22 from 2001:db8:1::5, inside 2001:db8::/32: allowed", P_MAIN,
	  V6(.proto = 6, .dport = 22, .src = "2001:db8:1::5"), 0, PASS, TCP(22), S_PASS },
	{ "tcp 22 from 2001:db9::1, outside: denied", P_MAIN,
	  V6(.proto = 6, .dport = 22, .src = "2001:db9::1"), 0, DROP, TCP(22), S_DROP },
	{ "tcp 22 from ::ffff:10.1.2.3: a v6 source never matches a v4 prefix", P_MAIN,
	  V6(.proto = 6, .dport = 22, .src = "::ffff:10.1.2.3"), 0, DROP, TCP(22), S_DROP },
	{ "tcp 5432 from 10.1.2.3: 'deny 10.1/16' first", P_MAIN,
	  V4(.proto = 6, .dport = 5432, .src = "10.1.2.3"), 0, DROP, TCP(5432), S_DROP },
	{ "tcp 5432 from 10.2.0.1: 'allow 10/8' second", P_MAIN,
	  V4(.proto = 6, .dport = 5432, .src = "10.2.0.1"), 0, PASS, TCP(5432), S_PASS },
	{ "udp 5432 from 10.1.2.3: the deny rule is tcp only", P_MAIN,
	  V4(.proto = 17, .dport = 5432, .src = "10.1.2.3"), 0, PASS, UDP(5432), S_PASS },
	{ "tcp 5432 from fd00::9: v6 prefix of the same rule", P_MAIN,
	  V6(.proto = 6, .dport = 5432, .src = "fd00::9"), 0, PASS, TCP(5432), S_PASS },
	{ "tcp 5432 from fe00::9: just outside fd00::/8", P_MAIN,
	  V6(.proto = 6, .dport = 5432, .src = "fe00::9"), 0, DROP, TCP(5432), S_DROP },

	/* --- VLAN --- */
	{ "802.1Q tag, v4 tcp 80 allowed", P_MAIN,
	  V4(Q1, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "QinQ (88a8 + 8100), v6 tcp 23 denied", P_MAIN,
	  V6(QINQ, .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "QinQ, v4 udp 53 allowed", P_MAIN,
	  V4(QINQ, .proto = 17, .dport = 53), 0, PASS, UDP(53), S_PASS },
	{ "three VLAN tags, v4 tcp 80 allowed", P_MAIN,
	  V4(.tags = { 0x88a8, 0x8100, 0x8100 }, .proto = 6, .dport = 80), 0,
	  PASS, TCP(80), S_PASS },
	{ "four VLAN tags (the most skipped), v6 tcp 23 denied", P_MAIN,
	  V6(.tags = { 0x88a8, 0x88a8, 0x8100, 0x8100 }, .proto = 6, .dport = 23), 0,
	  DROP, TCP(23), S_DROP },
	{ "four VLAN tags, v4 udp 53 allowed", P_MAIN,
	  V4(.tags = { 0x8100, 0x8100, 0x8100, 0x8100 }, .proto = 17, .dport = 53), 0,
	  PASS, UDP(53), S_PASS },
	{ "five VLAN tags: too deep, malformed (not non_ip: fail closed)", P_MAIN,
	  V4(.tags = { 0x8100, 0x8100, 0x8100, 0x8100, 0x8100 }, .proto = 6, .dport = 80), 0,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "five VLAN tags over ARP: malformed too", P_MAIN,
	  L2(.tags = { 0x88a8, 0x8100, 0x8100, 0x8100, 0x8100 }, .ethertype = 0x0806), 0,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "four VLAN tags over ARP: non_ip, passes", P_LOCKDOWN,
	  L2(.tags = { 0x88a8, 0x8100, 0x8100, 0x8100 }, .ethertype = 0x0806), 0,
	  PASS, BUCKET(NON_IP), S_PASS },

	/* --- IPv4 header shapes --- */
	{ "v4 IHL 6 (4 bytes options): ports read after the options", P_MAIN,
	  V4(.ihl = 6, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v4 IHL 15 (40 bytes options), tcp 443 allowed", P_MAIN,
	  V4(.ihl = 15, .proto = 6, .dport = 443), 0, PASS, TCP(443), S_PASS },
	{ "v4 IHL 15, tcp 23 denied", P_MAIN,
	  V4(.ihl = 15, .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "pitfall: IHL 4 is malformed (L4 never read from inside the IP header)", P_MAIN,
	  V4(.ihl = 4, .proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "pitfall: IHL 0 is malformed", P_MAIN,
	  V4(.ihl = 16 /* writes 0 */, .proto = 6, .dport = 80), 0,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "pitfall: IHL 1 is malformed", P_MAIN,
	  V4(.ihl = 1, .proto = 17, .dport = 53), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 19 < 20-byte header: malformed", P_MAIN,
	  V4(.tot_len = 19, .proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 20 == header: the TCP header is padding, malformed", P_MAIN,
	  V4(.tot_len = 20, .proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 39: TCP header one byte past the IP packet, malformed", P_MAIN,
	  V4(.tot_len = 39, .proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 40: TCP header just inside the IP packet, classified", P_MAIN,
	  V4(.tot_len = 40, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "tot_len 59, TCP doff 10 needs 60: options in padding, malformed", P_MAIN,
	  V4(.tot_len = 59, .proto = 6, .dport = 80, .doff = 10), 0,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 27: UDP header in padding, malformed", P_MAIN,
	  V4(.tot_len = 27, .proto = 17, .dport = 53), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 28: UDP header inside, classified", P_MAIN,
	  V4(.tot_len = 28, .proto = 17, .dport = 53), 0, PASS, UDP(53), S_PASS },
	{ "tot_len 23: ICMP header in padding, malformed", P_MAIN,
	  V4(.tot_len = 23, .proto = 1), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 24 == header (IHL 6): GRE is not parsed, other", P_MAIN,
	  V4(.ihl = 6, .tot_len = 24, .proto = 47), 0, PASS, BUCKET(OTHER), S_PASS },
	{ "tot_len 23 < 24-byte header (IHL 6): malformed", P_MAIN,
	  V4(.ihl = 6, .tot_len = 23, .proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "tot_len 1500 > frame (a multi-buffer frame holds more): classified", P_MAIN,
	  V4(.tot_len = 1500, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "EtherType IPv4 carrying version 6: malformed", P_MAIN,
	  V4(.version = 6, .proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "EtherType IPv6 carrying an IPv4 header: malformed", P_MAIN,
	  V4(.ethertype = 0x86dd, .proto = 6, .dport = 80, .payload = 40), 0,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "TCP doff 15 (40 bytes options), port 80 allowed", P_MAIN,
	  V4(.proto = 6, .dport = 80, .doff = 15), 0, PASS, TCP(80), S_PASS },
	{ "TCP doff 4 < 5: malformed", P_MAIN,
	  V4(.proto = 6, .dport = 80, .doff = 4), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "TCP doff 15 with only 20 bytes present: malformed", P_MAIN,
	  V6(.proto = 6, .dport = 80, .doff = 15), 14 + 40 + 20, DROP, BUCKET(MALFORMED), S_DROP },

	/* --- fragments (pitfall: payload of a non-first fragment is not a header) --- */
	{ "v4 first fragment (MF, offset 0) carries TCP 80: classified, allowed", P_MAIN,
	  V4(.mf = 1, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v4 first fragment (MF, offset 0) to tcp 23: denied by port", P_MAIN,
	  V4(.mf = 1, .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "pitfall: v4 non-first fragment looking like TCP to allowed 80: fragments deny", P_MAIN,
	  V4(.frag = 1, .mf = 1, .proto = 6, .dport = 80), 0, DROP, BUCKET(FRAGMENT), S_DROP },
	{ "pitfall: v4 last fragment (offset 185, no MF) looking like TCP 80: fragments deny", P_MAIN,
	  V4(.frag = 185, .proto = 6, .dport = 80), 0, DROP, BUCKET(FRAGMENT), S_DROP },
	{ "pitfall: v4 non-first fragment looking like TCP to denied 23: fragments allow", P_FRAG_ALLOW,
	  V4(.frag = 3, .mf = 1, .proto = 6, .dport = 23), 0, PASS, BUCKET(FRAGMENT), S_PASS },
	{ "pitfall: v4 non-first fragment with 1 byte after the IP header: fragment, not malformed", P_FRAG_ALLOW,
	  V4(.frag = 3, .proto = 6, .dport = 23), 14 + 20 + 1, PASS, BUCKET(FRAGMENT), S_PASS },
	{ "v6 first fragment (Fragment header offset 0, M) carries TCP 80: allowed", P_MAIN,
	  V6(EXT(44), .m6 = 1, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v6 first fragment to tcp 23: denied by port", P_MAIN,
	  V6(EXT(44), .m6 = 1, .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "pitfall: v6 non-first fragment looking like TCP to allowed 80: fragments deny", P_MAIN,
	  V6(EXT(44), .frag6 = 1, .m6 = 1, .proto = 6, .dport = 80), 0, DROP, BUCKET(FRAGMENT), S_DROP },
	{ "pitfall: v6 non-first fragment looking like UDP to denied 23: fragments allow", P_FRAG_ALLOW,
	  V6(EXT(0, 44), .frag6 = 100, .proto = 17, .dport = 23), 0, PASS, BUCKET(FRAGMENT), S_PASS },
	{ "pitfall: v6 non-first fragment after Hop-by-Hop, TCP-like to 80: fragments deny", P_MAIN,
	  V6(EXT(0, 44), .frag6 = 7, .proto = 6, .dport = 80), 0, DROP, BUCKET(FRAGMENT), S_DROP },
	{ "v6 non-first fragment with nothing after the Fragment header: fragment", P_FRAG_ALLOW,
	  V6(EXT(44), .frag6 = 7, .proto = 6, .dport = 80), 14 + 40 + 8, PASS, BUCKET(FRAGMENT), S_PASS },
	{ "audit: a non-first fragment under fragments deny passes, slot audit", P_AUDIT,
	  V4(.frag = 9, .proto = 17, .dport = 80), 0, PASS, BUCKET(FRAGMENT), S_AUDIT },

	/* --- ICMP, ICMPv6, neighbour discovery, ARP (pitfall: no lock-out) --- */
	{ "v4 ICMP echo under icmp allow", P_MAIN,
	  V4(.proto = 1), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "v6 ICMPv6 echo under icmp allow", P_MAIN,
	  V6(.proto = 58), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "v4 ICMP echo under icmp deny: dropped", P_LOCKDOWN,
	  V4(.proto = 1), 0, DROP, BUCKET(ICMP), S_DROP },
	{ "v6 ICMPv6 echo (128) under icmp deny: dropped", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 128), 0, DROP, BUCKET(ICMP), S_DROP },
	{ "v6 ICMPv6 packet too big (2) under icmp deny: dropped", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 2), 0, DROP, BUCKET(ICMP), S_DROP },
	{ "pitfall: ARP under default deny + icmp deny: passes", P_LOCKDOWN,
	  L2(.ethertype = 0x0806), 0, PASS, BUCKET(NON_IP), S_PASS },
	{ "pitfall: ARP behind an 802.1Q tag under lockdown: passes", P_LOCKDOWN,
	  L2(Q1, .ethertype = 0x0806), 0, PASS, BUCKET(NON_IP), S_PASS },
	{ "LLDP under lockdown: passes as non_ip", P_LOCKDOWN,
	  L2(.ethertype = 0x88cc), 0, PASS, BUCKET(NON_IP), S_PASS },
	{ "pitfall: ICMPv6 133 router solicitation under lockdown: passes", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 133), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "pitfall: ICMPv6 134 router advertisement under lockdown: passes", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 134), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "pitfall: ICMPv6 135 neighbour solicitation under lockdown: passes", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 135), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "pitfall: ICMPv6 136 neighbour advertisement under lockdown: passes", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 136), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "pitfall: ICMPv6 137 redirect under lockdown: passes", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 137), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "ICMPv6 132 (just below ND) under icmp deny: dropped", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 132), 0, DROP, BUCKET(ICMP), S_DROP },
	{ "ICMPv6 138 (just above ND) under icmp deny: dropped", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 138), 0, DROP, BUCKET(ICMP), S_DROP },
	{ "pitfall: neighbour solicitation behind Hop-by-Hop + VLAN under lockdown: passes", P_LOCKDOWN,
	  V6(Q1, EXT(0), .proto = 58, .icmp_type = 135), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "neighbour solicitation with only 4 ICMPv6 bytes: still passes", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 135), 14 + 40 + 4, PASS, BUCKET(ICMP), S_PASS },
	{ "neighbour solicitation with 3 ICMPv6 bytes: malformed", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 135), 14 + 40 + 3, DROP, BUCKET(MALFORMED), S_DROP },
	{ "ICMPv6 type 135 carried in IPv4 (proto 58) is just other", P_LOCKDOWN,
	  V4(.proto = 58, .icmp_type = 135), 0, DROP, BUCKET(OTHER), S_DROP },
	{ "ICMP (proto 1) carried in IPv6 is other, not icmp", P_MAIN,
	  V6(.proto = 1), 0, PASS, BUCKET(OTHER), S_PASS },
	{ "ICMP (proto 1) in IPv6 under other deny: dropped as other", P_LOCKDOWN,
	  V6(.proto = 1), 0, DROP, BUCKET(OTHER), S_DROP },

	/* --- other protocols, ESP, No Next Header --- */
	{ "v4 GRE under other allow", P_MAIN,
	  V4(.proto = 47, .dport = 80), 0, PASS, BUCKET(OTHER), S_PASS },
	{ "v4 GRE under other deny", P_LOCKDOWN,
	  V4(.proto = 47, .dport = 80), 0, DROP, BUCKET(OTHER), S_DROP },
	{ "v6 SCTP under other deny", P_LOCKDOWN,
	  V6(.proto = 132, .dport = 80), 0, DROP, BUCKET(OTHER), S_DROP },
	{ "v4 ESP is other", P_LOCKDOWN,
	  V4(.proto = 50), 0, DROP, BUCKET(OTHER), S_DROP },
	{ "v6 ESP ends the walk: other", P_MAIN,
	  V6(.proto = 50, .dport = 23), 0, PASS, BUCKET(OTHER), S_PASS },
	{ "v6 HbH then ESP: other (bytes after ESP are never read as TCP)", P_LOCKDOWN,
	  V6(EXT(0), .proto = 50, .dport = 80), 0, DROP, BUCKET(OTHER), S_DROP },
	{ "v6 No Next Header (59): other", P_LOCKDOWN,
	  V6(.proto = 59), 0, DROP, BUCKET(OTHER), S_DROP },
	{ "v6 DstOpts then No Next Header: other", P_MAIN,
	  V6(EXT(60), .proto = 59), 0, PASS, BUCKET(OTHER), S_PASS },

	/* --- IPv6 extension headers --- */
	{ "v6 Hop-by-Hop, tcp 80 allowed", P_MAIN,
	  V6(EXT(0), .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v6 Routing, tcp 23 denied", P_MAIN,
	  V6(EXT(43), .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "v6 Destination Options, udp 53 allowed", P_MAIN,
	  V6(EXT(60), .proto = 17, .dport = 53), 0, PASS, UDP(53), S_PASS },
	{ "v6 AH (length in 4-byte units), tcp 443 allowed", P_MAIN,
	  V6(EXT(51), .proto = 6, .dport = 443), 0, PASS, TCP(443), S_PASS },
	{ "v6 AH 24 bytes, tcp 23 denied", P_MAIN,
	  V6(EXT(51), .ext_len = { 24 }, .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "v6 Hop-by-Hop 64 bytes, tcp 80 allowed", P_MAIN,
	  V6(EXT(0), .ext_len = { 64 }, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v6 HbH+Routing+Frag(0)+AH+DstOpts, tcp 22 from 2001:db8::7 allowed", P_MAIN,
	  V6(EXT(0, 43, 44, 51, 60), .src = "2001:db8::7", .proto = 6, .dport = 22), 0,
	  PASS, TCP(22), S_PASS },
	{ "v6 Hop-by-Hop of 2048 bytes (hdrlen 255), tcp 80 allowed", P_MAIN,
	  V6(EXT(0), .ext_len = { 2048 }, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v6 AH of 1028 bytes (hdrlen 255), tcp 23 denied", P_MAIN,
	  V6(EXT(51), .ext_len = { 1028 }, .proto = 6, .dport = 23), 0, DROP, TCP(23), S_DROP },
	{ "v6 HbH 2048 + DstOpts 1024 (a 3146-byte frame), tcp 80 allowed", P_MAIN,
	  V6(EXT(0, 60), .ext_len = { 2048, 1024 }, .proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "v6 Hop-by-Hop of 2048 bytes, TCP cut 1 byte short: malformed", P_MAIN,
	  V6(EXT(0), .ext_len = { 2048 }, .proto = 6, .dport = 80), 14 + 40 + 2048 + 19,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "v6 Hop-by-Hop of 2048 bytes, 2047 present: malformed", P_MAIN,
	  V6(EXT(0), .ext_len = { 2048 }, .proto = 6, .dport = 80), 14 + 40 + 2047,
	  DROP, BUCKET(MALFORMED), S_DROP },
	{ "v6 Hop-by-Hop announcing 16 bytes, 8 present: malformed", P_MAIN,
	  V6(EXT(0), .ext_len = { 16 }, .proto = 6, .dport = 80), 14 + 40 + 8,
	  DROP, BUCKET(MALFORMED), S_DROP },

	/* --- audit mode --- */
	{ "audit: tcp 23 denied by default passes, slot audit", P_AUDIT,
	  V4(.proto = 6, .dport = 23), 0, PASS, TCP(23), S_AUDIT },
	{ "audit: tcp 80 allowed passes, slot pass", P_AUDIT,
	  V6(.proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS },
	{ "audit: ICMP under icmp deny passes, slot audit", P_AUDIT,
	  V4(.proto = 1), 0, PASS, BUCKET(ICMP), S_AUDIT },
	{ "audit: GRE under other deny passes, slot audit", P_AUDIT,
	  V4(.proto = 47), 0, PASS, BUCKET(OTHER), S_AUDIT },
	{ "audit: neighbour solicitation passes, slot pass (exempt, not audited)", P_AUDIT,
	  V6(.proto = 58, .icmp_type = 135), 0, PASS, BUCKET(ICMP), S_PASS },
	{ "audit: malformed (IHL 4) is still dropped, slot drop", P_AUDIT,
	  V4(.ihl = 4, .proto = 6, .dport = 23), 0, DROP, BUCKET(MALFORMED), S_DROP },
	{ "audit: truncated TCP is still dropped", P_AUDIT,
	  V4(.proto = 6, .dport = 23), 14 + 20 + 19, DROP, BUCKET(MALFORMED), S_DROP },
	{ "audit: ARP passes as non_ip", P_AUDIT,
	  L2(.ethertype = 0x0806), 0, PASS, BUCKET(NON_IP), S_PASS },
};

/* ---- the runner ---- */
struct env {
	struct pc_instance *inst;
	struct tk_checker k;
	struct pc_policy pol[P_COUNT];
	struct pc_compiled *comp[P_COUNT];
	int live;
	unsigned long cases, frames, failed, ref_disagree, runts_refused;
};

static int use_policy(struct env *e, int p)
{
	int err;

	if (e->live == p)
		return 0;
	err = pc_publish(e->inst, e->comp[p]);
	if (!err && e->k.inst)	/* the ports' counter slots may have moved */
		err = tk_checker_sync_slots(&e->k);
	if (err) {
		fprintf(stderr, "pc_publish(%s): %s\n", policy_name[p], strerror(-err));
		return err;
	}
	e->live = p;
	return 0;
}

/* IPv6 frames whose payload length is rewritten after building: an L4
 * header must lie inside the IP packet, not in the padding after it. */
struct plen6_case {
	struct dp_case c;
	uint16_t plen6;		/* written as the IPv6 payload length */
};

static const struct plen6_case plen6_cases[] = {
	{ { "v6 payload_len 0: TCP header in padding, malformed", P_MAIN,
	  V6(.proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP }, 0 },
	{ { "v6 payload_len 19: TCP header cut by the IP length, malformed", P_MAIN,
	  V6(.proto = 6, .dport = 80), 0, DROP, BUCKET(MALFORMED), S_DROP }, 19 },
	{ { "v6 payload_len 20: TCP header inside, classified", P_MAIN,
	  V6(.proto = 6, .dport = 80), 0, PASS, TCP(80), S_PASS }, 20 },
	{ { "v6 HbH (8) + UDP, payload_len 8: UDP in padding, malformed", P_MAIN,
	  V6(EXT(0), .proto = 17, .dport = 53), 0, DROP, BUCKET(MALFORMED), S_DROP }, 8 },
	{ { "v6 HbH (8) + UDP, payload_len 16: classified", P_MAIN,
	  V6(EXT(0), .proto = 17, .dport = 53), 0, PASS, UDP(53), S_PASS }, 16 },
	{ { "v6 payload_len 3: ICMPv6 in padding, malformed", P_LOCKDOWN,
	  V6(.proto = 58, .icmp_type = 135), 0, DROP, BUCKET(MALFORMED), S_DROP }, 3 },
};

/* plen6 >= 0: write it as the IPv6 payload length once built */
static void build(const struct dp_case *c, int plen6, struct pkt *p)
{
	pkt_build(p, &c->f);
	if (plen6 >= 0 && p->ip6_off >= 0) {
		p->b[p->ip6_off + 4] = (uint8_t)(plen6 >> 8);
		p->b[p->ip6_off + 5] = (uint8_t)plen6;
	}
	if (c->cut > 0)
		pkt_truncate(p, (size_t)c->cut);
}

static void run_case(struct env *e, const struct dp_case *c, int plen6)
{
	struct ref_result want, ref;
	char a[200], b[200];
	struct pkt p;

	e->cases++;
	if (use_policy(e, c->policy)) {
		e->failed++;
		return;
	}
	build(c, plen6, &p);
	memset(&want, 0, sizeof(want));
	want.action = c->action;
	want.in_ports = c->in_ports;
	want.index = c->index;
	want.outcome = c->outcome;
	want.bytes = p.len;
	if (c->in_ports) {
		want.kind = REF_PORT;
		want.proto = c->index / PC_NUM_PORTS;
		want.dport = c->index % PC_NUM_PORTS;
	}

	/* the reference must say the same as the table */
	ref_classify(&e->pol[c->policy], p.b, p.len, &ref);
	if (ref.action != want.action || ref.in_ports != want.in_ports ||
	    ref.index != want.index || ref.outcome != want.outcome) {
		ref_describe(&want, a, sizeof(a));
		ref_describe(&ref, b, sizeof(b));
		fprintf(stderr, "FAIL [%s] %s: reference classifier disagrees with the table:\n"
			"  table: %s\n  ref:   %s\n", policy_name[c->policy], c->name, a, b);
		e->ref_disagree++;
		e->failed++;
	}
	e->frames++;
	if (tk_check(&e->k, c->name, p.b, p.len, &want, 1)) {
		fprintf(stderr, "FAIL [%s] %s\n", policy_name[c->policy], c->name);
		e->failed++;
		return;
	}
	printf("ok   [%s] %s\n", policy_name[c->policy], c->name);
}

/*
 * Where the program must stop reading, stated independently of the
 * reference: the end of the last header it parses. ICMP needs 4 bytes; a
 * non-first fragment ends the parse at its IP / Fragment header; anything
 * that is not a parsed header (payload, ARP, LLDP, an unknown protocol's
 * bytes) needs nothing.
 */
static size_t needed_len(const struct pkt *p, const struct pkt_desc *d)
{
	size_t need = 0;

	for (int i = 0; i < p->n_hdr; i++) {
		const struct pkt_hdr *h = &p->hdr[i];
		const char *n = h->name;

		if (!strcmp(n, "icmp") || !strcmp(n, "icmp6")) {
			/* ICMPv6 in v4 and ICMP in v6 are "other": not parsed */
			if ((d->family == 4) == !strcmp(n, "icmp"))
				need = h->off + 4;
			break;
		}
		if (!strcmp(n, "payload") || !strcmp(n, "arp") || !strcmp(n, "lldp") ||
		    !strcmp(n, "l4other") || !strcmp(n, "raw"))
			break;
		need = h->off + h->len;
		if (!strcmp(n, "ipv4") && d->frag)
			break;
		if (!strcmp(n, "frag") && d->frag6)
			break;
	}
	return need;
}

struct sweep_shape {
	const char *name;
	int policy;
	struct pkt_desc f;
};

static const struct sweep_shape shapes[] = {
	{ "v4 tcp 80", P_MAIN, V4(.proto = 6, .dport = 80) },
	{ "v4 tcp 23", P_MAIN, V4(.proto = 6, .dport = 23) },
	{ "v4 IHL 15 tcp doff 15 to 80", P_MAIN, V4(.ihl = 15, .proto = 6, .dport = 80, .doff = 15) },
	{ "v4 udp 53", P_MAIN, V4(.proto = 17, .dport = 53) },
	{ "v4 icmp", P_LOCKDOWN, V4(.proto = 1) },
	{ "v4 gre", P_MAIN, V4(.proto = 47) },
	{ "v4 non-first fragment", P_FRAG_ALLOW, V4(.frag = 5, .proto = 6, .dport = 23) },
	{ "QinQ v4 tcp 80", P_MAIN, V4(QINQ, .proto = 6, .dport = 80) },
	{ "802.1Q v6 udp 53", P_MAIN, V6(Q1, .proto = 17, .dport = 53) },
	{ "v6 tcp 443", P_MAIN, V6(.proto = 6, .dport = 443) },
	{ "v6 icmpv6 echo", P_LOCKDOWN, V6(.proto = 58, .icmp_type = 128) },
	{ "v6 neighbour solicitation", P_LOCKDOWN, V6(.proto = 58, .icmp_type = 135) },
	{ "v6 HbH+Routing+DstOpts+AH+Frag(0) tcp 80", P_MAIN,
	  V6(EXT(0, 43, 60, 51, 44), .ext_len = { 16, 24, 8, 20 }, .proto = 6, .dport = 80) },
	{ "v6 non-first fragment after HbH", P_FRAG_ALLOW,
	  V6(EXT(0, 44), .frag6 = 3, .proto = 6, .dport = 23) },
	{ "v6 ESP", P_LOCKDOWN, V6(EXT(60), .proto = 50) },
	{ "ARP", P_LOCKDOWN, L2(.ethertype = 0x0806) },
	{ "QinQ ARP", P_LOCKDOWN, L2(QINQ, .ethertype = 0x0806) },
};

/* Every truncation length of a shape: below the needed length the frame is
 * malformed, from it on it gets the whole frame's verdict. */
static void sweep_truncation(struct env *e, const struct sweep_shape *s)
{
	struct ref_result full, want, ref;
	unsigned long bad0 = e->failed;
	struct pkt p, q;
	size_t need;
	char what[160];

	e->cases++;
	if (use_policy(e, s->policy)) {
		e->failed++;
		return;
	}
	pkt_build(&p, &s->f);
	need = needed_len(&p, &s->f);
	ref_classify(&e->pol[s->policy], p.b, p.len, &full);
	if (full.kind == REF_MALFORMED) {
		fprintf(stderr, "FAIL sweep %s: the whole frame is malformed\n", s->name);
		e->failed++;
		return;
	}
	for (size_t n = 0; n <= p.len; n++) {
		q = p;
		pkt_truncate(&q, n);
		if (n < need) {
			memset(&want, 0, sizeof(want));
			want.action = XDP_DROP;
			want.index = PC_BUCKET_MALFORMED;
			want.outcome = PC_OUT_DROP;
			want.kind = REF_MALFORMED;
		} else {
			want = full;
		}
		want.bytes = n;
		ref_classify(&e->pol[s->policy], q.b, q.len, &ref);
		snprintf(what, sizeof(what), "truncation sweep [%s] %s cut at %zu of %zu (needs %zu)",
			 policy_name[s->policy], s->name, n, p.len, need);
		if (ref.action != want.action || ref.in_ports != want.in_ports ||
		    ref.index != want.index || ref.outcome != want.outcome) {
			fprintf(stderr, "FAIL %s: reference classifier disagrees (kind %s)\n",
				what, ref_kind_name(ref.kind));
			e->ref_disagree++;
			e->failed++;
		}
		if (n < 14) {
			/* BPF_PROG_TEST_RUN refuses frames shorter than an
			 * Ethernet header (-EINVAL); the reference covers them
			 * above. Should a kernel accept one, check it. */
			uint32_t act;
			int err = tk_run(e->inst->prog_fd, q.b, q.len, &act);

			if (err == -EINVAL) {
				e->runts_refused++;
				continue;
			}
			tk_counters_add(&e->k.shadow, &want);
			if (err || act != XDP_DROP) {
				fprintf(stderr, "FAIL %s: runt frame: err %d action %u\n",
					what, err, act);
				e->failed++;
			}
			continue;
		}
		e->frames++;
		if (tk_check(&e->k, what, q.b, q.len, &want, 0))
			e->failed++;
	}
	if (tk_check_all(&e->k, s->name))
		e->failed++;
	printf("%s truncation sweep [%s] %s: %zu lengths, malformed below %zu\n",
	       e->failed == bad0 ? "ok  " : "FAIL", policy_name[s->policy], s->name,
	       p.len + 1, need);
}

/*
 * IPv6 chains of 1 .. PC_MAX_IPV6_EXT + 3 extension headers, the types
 * rotating through HbH, Routing, DstOpts, AH, Fragment(0). Up to
 * PC_MAX_IPV6_EXT the packet is classified by port; beyond, malformed
 * (fail closed). Never XDP_ABORTED (pitfall: xdp-filter aborts at 7).
 */
static void sweep_ext_chain(struct env *e)
{
	static const uint8_t rot[] = { 0, 43, 60, 51, 44 };
	static const struct { uint8_t proto; uint16_t dport; uint8_t icmp; int pol; } tails[] = {
		{ 6, 80, 0, P_MAIN },	/* allowed */
		{ 6, 23, 0, P_MAIN },	/* denied */
		{ 17, 53, 0, P_MAIN },
		{ 58, 0, 135, P_LOCKDOWN },	/* ND: passes while walked */
		{ 50, 0, 0, P_MAIN },	/* ESP: other */
	};
	unsigned long bad0 = e->failed, frames0 = e->frames;

	e->cases++;
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		if (use_policy(e, tails[t].pol)) {
			e->failed++;
			return;
		}
		for (int n = 1; n <= PC_MAX_IPV6_EXT + 3; n++) {
			struct pkt_desc d = { .family = 6, .proto = tails[t].proto,
					      .dport = tails[t].dport,
					      .icmp_type = tails[t].icmp, .n_ext = n };
			struct ref_result want, ref;
			struct pkt p;
			char what[160];

			for (int i = 0; i < n; i++)
				d.ext[i] = rot[i % sizeof(rot)];
			pkt_build(&p, &d);
			ref_classify(&e->pol[tails[t].pol], p.b, p.len, &ref);
			if (n <= PC_MAX_IPV6_EXT) {
				/* the same tail without extension headers */
				struct pkt_desc d0 = d;
				struct pkt p0;

				d0.n_ext = 0;
				pkt_build(&p0, &d0);
				ref_classify(&e->pol[tails[t].pol], p0.b, p0.len, &want);
				want.bytes = p.len;
			} else {
				memset(&want, 0, sizeof(want));
				want.action = XDP_DROP;
				want.index = PC_BUCKET_MALFORMED;
				want.outcome = PC_OUT_DROP;
				want.bytes = p.len;
			}
			snprintf(what, sizeof(what),
				 "pitfall: IPv6 with %d extension headers then %u/%u", n,
				 tails[t].proto, tails[t].dport);
			if (ref.action != want.action || ref.index != want.index ||
			    ref.in_ports != want.in_ports || ref.outcome != want.outcome) {
				fprintf(stderr, "FAIL %s: reference classifier disagrees\n", what);
				e->ref_disagree++;
				e->failed++;
			}
			e->frames++;
			if (tk_check(&e->k, what, p.b, p.len, &want, 0))
				e->failed++;
		}
	}
	if (tk_check_all(&e->k, "extension chain sweep"))
		e->failed++;
	printf("%s pitfall: IPv6 chains of 1..%d extension headers (7th, 8th and more): "
	       "%lu frames, none XDP_ABORTED, > %d malformed\n",
	       e->failed == bad0 ? "ok  " : "FAIL", PC_MAX_IPV6_EXT + 3,
	       e->frames - frames0, PC_MAX_IPV6_EXT);
}

/*
 * Corrupt map contents fail closed (abi.h, step 6): a verdict byte other
 * than PC_ALLOW and PC_DENY_AUDIT acts as PC_DENY, a mode other than
 * PC_MODE_AUDIT enforces, only bit 0 of control.gen selects the half,
 * and a source-prefix trie walk that goes wrong denies. Written straight into
 * the live half, each restored afterwards. Expectations are stated here:
 * no policy text can produce these bytes, so the reference has no say.
 */
static void want_set(struct ref_result *w, int action, int in_ports, uint32_t index,
		     int outcome, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->action = action;
	w->in_ports = in_ports;
	w->index = index;
	w->outcome = outcome;
	w->bytes = len;
}

static void corrupt_one(struct env *e, const char *name, const struct pkt_desc *d,
			int action, int in_ports, uint32_t index, int outcome)
{
	struct ref_result want;
	struct pkt p;

	pkt_build(&p, d);
	want_set(&want, action, in_ports, index, outcome, p.len);
	e->cases++;
	e->frames++;
	if (tk_check(&e->k, name, p.b, p.len, &want, 1)) {
		fprintf(stderr, "FAIL [corrupt maps] %s\n", name);
		e->failed++;
		return;
	}
	printf("ok   [corrupt maps] %s\n", name);
}

static int map_rw(int fd, __u32 key, void *val, int write)
{
	int err = write ? bpf_map_update_elem(fd, &key, val, BPF_ANY) :
			  bpf_map_lookup_elem(fd, &key, val);

	return err ? -errno : 0;
}

/* A write the following check depends on: a failed write would make the
 * restore / bit-1 checks pass for nothing. */
static void must_write(struct env *e, int fd, __u32 key, void *val)
{
	int err = map_rw(fd, key, val, 1);

	if (err) {
		fprintf(stderr, "FAIL [corrupt maps] map write: %s\n", strerror(-err));
		e->failed++;
	}
}

/* Node idx of generation g's table (one value of every node: written as
 * memory). */
static void write_node(struct env *e, __u32 g, __u32 idx, const struct pc_node *node)
{
	struct pc_trie_view v;
	int err = pc_nodes_map(e->inst, g, &v);

	if (!err && idx >= v.n_entries)
		err = -ERANGE;
	if (err) {
		fprintf(stderr, "FAIL [corrupt maps] map prefix_nodes: %s\n", strerror(-err));
		e->failed++;
		pc_nodes_unmap(&v);
		return;
	}
	((struct pc_node *)v.base)[idx] = *node;
	pc_nodes_unmap(&v);
}

/* The trie walk (abi.h, step 6) on corrupt nodes: tcp 22 from 10.1.2.3
 * is allowed through the class's IPv4 trie (10.0.0.0/8). The port entry's
 * IPv4 root slot is pointed at a 4-bit node of our own, whose slot 0 (the
 * first 4 bits of 10.x) is then overwritten: a cycle, a node outside the
 * map, a wide node running past the map's end, a slot of no known kind, a
 * tail, bucket or guard whose answer is a node, a guard of 0 bits, a leaf
 * verdict 3: all dropped. Tails, buckets and guards below that node
 * compare the address bits after its 4. The root slot itself: of no known
 * kind, or outside the map: dropped; a leaf: decides with no read. */
static void sweep_corrupt_trie(struct env *e, __u32 g)
{
	static const struct pkt_desc tcp22 = V4(.proto = 6, .dport = 22, .src = "10.1.2.3");
	struct pc_port_entry pe22, pe;
	struct pc_node bad, tail;
	/* the policy's tries are small: in the small tier's table */
	__u32 iroot = PC_PREFIX_SMALL_NODES - 2, itail = PC_PREFIX_SMALL_NODES - 1;
	__u32 ip22 = pc_port_index(g, PC_PROTO_TCP, 22);

	if (map_rw(e->inst->ports_fd, ip22, &pe22, 0) || !pe22.class_id) {
		fprintf(stderr, "FAIL [corrupt maps] tcp 22 has no source class\n");
		e->failed++;
		return;
	}
	corrupt_one(e, "trie intact: tcp 22 from 10.1.2.3 allowed", &tcp22, PASS, TCP(22), S_PASS);

	pe = pe22;
	pe.root[0] = 0x20u << PC_SLOT_KIND_SHIFT;
	must_write(e, e->inst->ports_fd, ip22, &pe);
	corrupt_one(e, "trie root slot of no known kind: dropped", &tcp22, DROP, TCP(22), S_DROP);
	pe.root[0] = pc_slot_node(PC_PREFIX_SMALL_NODES + 5, 4);
	must_write(e, e->inst->ports_fd, ip22, &pe);
	corrupt_one(e, "trie root slot outside the map: dropped", &tcp22, DROP, TCP(22), S_DROP);
	pe.root[0] = pe22.root[0] | PC_ROOT_LARGE;
	must_write(e, e->inst->ports_fd, ip22, &pe);
	corrupt_one(e, "trie root slot naming the large tier, which has no table: dropped",
		    &tcp22, DROP, TCP(22), S_DROP);
	pe.root[0] = pc_leaf(PC_ALLOW, 1);
	must_write(e, e->inst->ports_fd, ip22, &pe);
	corrupt_one(e, "trie root slot a leaf (allow): passes", &tcp22, PASS, TCP(22), S_PASS);

	/* from here on the walk starts at our 4-bit node */
	memset(&bad, 0, sizeof(bad));
	bad.slot[0] = pc_leaf(PC_ALLOW, 1);
	write_node(e, g, iroot, &bad);
	pe.root[0] = pc_slot_node(iroot, 4);
	must_write(e, e->inst->ports_fd, ip22, &pe);
	corrupt_one(e, "trie root node, slot 0 allow: passes", &tcp22, PASS, TCP(22), S_PASS);
	bad.slot[0] = pc_slot_node(iroot, 4);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie root slot pointing at the root (a cycle): dropped", &tcp22,
		    DROP, TCP(22), S_DROP);
	bad.slot[0] = pc_slot_node(PC_SLOT_ENTRY, 8);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie slot naming a node outside the map: dropped", &tcp22,
		    DROP, TCP(22), S_DROP);
	bad.slot[0] = pc_slot_node(PC_PREFIX_SMALL_NODES - 2, PC_TRIE_MAX_BITS);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie wide node running past the map's end: dropped", &tcp22,
		    DROP, TCP(22), S_DROP);
	bad.slot[0] = 0x20u << PC_SLOT_KIND_SHIFT | itail;
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie slot of no known kind: dropped", &tcp22, DROP, TCP(22), S_DROP);
	bad.slot[0] = pc_leaf(3, 1);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie leaf verdict 3: dropped", &tcp22, DROP, TCP(22), S_DROP);
	bad.slot[0] = pc_leaf(PC_DENY_AUDIT, 1);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie leaf verdict PC_DENY_AUDIT: passes, slot audit", &tcp22,
		    PASS, TCP(22), S_AUDIT);

	memset(&tail, 0, sizeof(tail));
	tail.tail.addr_hi = 0xa010000000000000ull;	/* 10.1.0.0/16 after 4 bits */
	tail.tail.mask_hi = 0xfff0000000000000ull;
	tail.tail.hit = pc_leaf(PC_DENY, 1);
	tail.tail.miss = 5;				/* a node: corrupt */
	write_node(e, g, itail, &tail);
	bad.slot[0] = pc_slot_tail(itail);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie tail hit (10.1.0.0/16, deny): dropped", &tcp22, DROP, TCP(22), S_DROP);
	tail.tail.addr_hi = 0xa020000000000000ull;	/* 10.2.0.0/16: a miss */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie tail miss holding a node: dropped", &tcp22, DROP, TCP(22), S_DROP);
	tail.tail.miss = 0;
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie tail miss empty: the port entry's deny", &tcp22, DROP, TCP(22), S_DROP);
	tail.tail.miss = pc_leaf(PC_ALLOW, 1);
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie tail miss allow: passes", &tcp22, PASS, TCP(22), S_PASS);

	memset(&tail, 0, sizeof(tail));		/* now a bucket */
	tail.bucket.key[0] = 0xa020000000000000ull;	/* 10.2.0.0/16: no */
	tail.bucket.mask[0] = 0xfff0000000000000ull;
	tail.bucket.result[0] = pc_leaf(PC_ALLOW, 1);
	tail.bucket.key[1] = 0xa010000000000000ull;	/* 10.1.0.0/16: yes */
	tail.bucket.mask[1] = 0xfff0000000000000ull;
	tail.bucket.result[1] = pc_leaf(PC_DENY, 1);
	tail.bucket.result[2] = pc_leaf(PC_ALLOW, 1);	/* every address */
	write_node(e, g, itail, &tail);
	bad.slot[0] = pc_slot_bucket(itail);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie bucket, second entry (10.1.0.0/16, deny): dropped", &tcp22,
		    DROP, TCP(22), S_DROP);
	tail.bucket.result[1] = 7;			/* a node: corrupt */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie bucket answer holding a node: dropped", &tcp22, DROP, TCP(22), S_DROP);
	tail.bucket.mask[1] = ~0ull;			/* no longer matches */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie bucket, last entry (every address, allow): passes", &tcp22,
		    PASS, TCP(22), S_PASS);
	tail.bucket.mask[2] = ~0ull;			/* nothing matches */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie bucket, no entry matches: the port entry's deny", &tcp22,
		    DROP, TCP(22), S_DROP);

	memset(&tail, 0, sizeof(tail));		/* now a guard */
	tail.guard.key = 0xa010000000000000ull;		/* 10.1 after 4 bits */
	tail.guard.mask = 0xfff0000000000000ull;
	tail.guard.bits = 12;
	tail.guard.next = pc_leaf(PC_ALLOW, 1);
	tail.guard.miss = pc_leaf(PC_DENY, 1);
	write_node(e, g, itail, &tail);
	bad.slot[0] = pc_slot_guard(itail);
	write_node(e, g, iroot, &bad);
	corrupt_one(e, "trie guard matching (10.1), next allow: passes", &tcp22,
		    PASS, TCP(22), S_PASS);
	tail.guard.key = 0xa020000000000000ull;		/* 10.2: a miss */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie guard missing, miss deny: dropped", &tcp22, DROP, TCP(22), S_DROP);
	tail.guard.miss = 9;				/* a node: corrupt */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie guard miss holding a node: dropped", &tcp22, DROP, TCP(22), S_DROP);
	tail.guard.key = 0xa010000000000000ull;
	tail.guard.bits = 0;				/* skips nothing */
	write_node(e, g, itail, &tail);
	corrupt_one(e, "trie guard of 0 bits: dropped", &tcp22, DROP, TCP(22), S_DROP);

	must_write(e, e->inst->ports_fd, ip22, &pe22);
	corrupt_one(e, "restored trie: tcp 22 from 10.1.2.3 allowed", &tcp22, PASS, TCP(22), S_PASS);
}

static void sweep_corrupt_maps(struct env *e)
{
	static const struct pkt_desc tcp80 = V4(.proto = 6, .dport = 80);
	static const struct pkt_desc tcp23 = V4(.proto = 6, .dport = 23);
	static const struct pkt_desc tcp9999 = V4(.proto = 6, .dport = 9999);
	static const struct pkt_desc icmp = V4(.proto = 1);
	static const struct pkt_desc frag = V4(.frag = 9, .proto = 17, .dport = 80);
	struct pc_port_entry pe80, pe9999, bad;
	struct pc_settings st, bst;
	struct pc_control ctl, bctl;
	__u32 g, i80, i9999;

	if (use_policy(e, P_MAIN) ||
	    map_rw(e->inst->control_fd, 0, &ctl, 0)) {
		fprintf(stderr, "FAIL [corrupt maps] cannot read control\n");
		e->failed++;
		return;
	}
	g = ctl.gen & 1;
	i80 = pc_port_index(g, PC_PROTO_TCP, 80);
	i9999 = pc_port_index(g, PC_PROTO_TCP, 9999);
	if (map_rw(e->inst->ports_fd, i80, &pe80, 0) ||
	    map_rw(e->inst->ports_fd, i9999, &pe9999, 0) ||
	    map_rw(e->inst->settings_fd, g, &st, 0)) {
		fprintf(stderr, "FAIL [corrupt maps] cannot read the live half\n");
		e->failed++;
		return;
	}

	bad = pe80;
	bad.verdict = PC_DENY_AUDIT;
	must_write(e, e->inst->ports_fd, i80, &bad);
	corrupt_one(e, "port entry verdict PC_DENY_AUDIT on tcp 80: passes, slot audit", &tcp80,
		    PASS, TCP(80), S_AUDIT);
	bad.verdict = 3;
	must_write(e, e->inst->ports_fd, i80, &bad);
	corrupt_one(e, "port entry verdict 3 on allowed tcp 80: dropped", &tcp80,
		    DROP, TCP(80), S_DROP);
	bad.verdict = 0xff;
	must_write(e, e->inst->ports_fd, i80, &bad);
	corrupt_one(e, "port entry verdict 0xff on allowed tcp 80: dropped", &tcp80,
		    DROP, TCP(80), S_DROP);
	must_write(e, e->inst->ports_fd, i80, &pe80);
	corrupt_one(e, "restored: tcp 80 allowed again", &tcp80, PASS, TCP(80), S_PASS);

	memset(&bad, 0, sizeof(bad));
	bad.verdict = 0x7f;
	bad.slot_off = pe9999.slot_off;	/* counted where the checker expects it */
	must_write(e, e->inst->ports_fd, i9999, &bad);
	corrupt_one(e, "port entry verdict 0x7f, no source class: dropped", &tcp9999,
		    DROP, TCP(9999), S_DROP);
	must_write(e, e->inst->ports_fd, i9999, &pe9999);

	bst = st;
	bst.icmp_verdict = 0xff;
	must_write(e, e->inst->settings_fd, g, &bst);
	corrupt_one(e, "settings icmp verdict 0xff: ICMP dropped", &icmp,
		    DROP, BUCKET(ICMP), S_DROP);
	bst = st;
	bst.mode = 2;
	must_write(e, e->inst->settings_fd, g, &bst);
	corrupt_one(e, "settings mode 2 (not audit): a fragment deny is enforced", &frag,
		    DROP, BUCKET(FRAGMENT), S_DROP);
	/* the port path never reads the mode: its entries carry it */
	bst.mode = PC_MODE_AUDIT;
	must_write(e, e->inst->settings_fd, g, &bst);
	corrupt_one(e, "settings mode audit: a fragment deny passes, slot audit", &frag,
		    PASS, BUCKET(FRAGMENT), S_AUDIT);
	corrupt_one(e, "settings mode audit: tcp 23, entry PC_DENY, still dropped", &tcp23,
		    DROP, TCP(23), S_DROP);
	must_write(e, e->inst->settings_fd, g, &st);

	bctl = ctl;
	bctl.gen = g | 2;
	must_write(e, e->inst->control_fd, 0, &bctl);
	corrupt_one(e, "control.gen with bit 1 set: same half, tcp 80 allowed", &tcp80,
		    PASS, TCP(80), S_PASS);
	bctl.gen = g | 0xfffffffe;
	must_write(e, e->inst->control_fd, 0, &bctl);
	corrupt_one(e, "control.gen 0xfffffffe|gen: same half, tcp 23 denied", &tcp23,
		    DROP, TCP(23), S_DROP);
	must_write(e, e->inst->control_fd, 0, &ctl);
	corrupt_one(e, "restored control: tcp 80 allowed", &tcp80, PASS, TCP(80), S_PASS);

	sweep_corrupt_trie(e, g);
}

int main(void)
{
	struct env e;
	int err;

	tk_require_root("test_datapath");
	memset(&e, 0, sizeof(e));
	for (int p = 0; p < P_COUNT; p++)
		if (tk_policy(policy_text[p], &e.pol[p], &e.comp[p]))
			return 1;
	err = pc_load_unattached(e.comp[P_MAIN], &e.inst);
	if (err) {
		fprintf(stderr, "test_datapath: pc_load_unattached: %s\n", strerror(-err));
		return 1;
	}
	e.live = P_MAIN;
	if (tk_checker_init(&e.k, e.inst)) {
		fprintf(stderr, "test_datapath: cannot read counters\n");
		return 1;
	}

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&e, &cases[i], -1);
	for (size_t i = 0; i < sizeof(plen6_cases) / sizeof(plen6_cases[0]); i++)
		run_case(&e, &plen6_cases[i].c, plen6_cases[i].plen6);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		sweep_truncation(&e, &shapes[i]);
	sweep_ext_chain(&e);
	sweep_corrupt_maps(&e);

	printf("\ntest_datapath: %zu table cases + %zu truncation sweeps + 1 chain sweep + corrupt maps, "
	       "%lu frames run, %lu failures (%lu reference disagreements); "
	       "%lu runt frames (< 14 bytes) refused by BPF_PROG_TEST_RUN\n",
	       sizeof(cases) / sizeof(cases[0]), sizeof(shapes) / sizeof(shapes[0]),
	       e.frames, e.failed, e.ref_disagree, e.runts_refused);

	tk_checker_free(&e.k);
	pc_close(e.inst);
	for (int p = 0; p < P_COUNT; p++) {
		pc_compiled_free(e.comp[p]);
		pc_policy_free(&e.pol[p]);
	}
	return e.failed ? 1 : 0;
}
