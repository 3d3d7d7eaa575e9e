/* SPDX-License-Identifier: GPL-2.0 */
/*
 * packet.h - a frame builder for tests: Ethernet, VLAN tags, ARP, LLDP,
 * IPv4 (options, any IHL / tot_len / fragment fields), IPv6 with any chain
 * of extension headers, TCP, UDP, ICMP, ICMPv6, raw bytes; truncation.
 *
 * Headers are appended in wire order; the caller names every "next" field
 * itself, so impossible chains are as easy to build as valid ones. Multi-byte
 * arguments are host order; the builder writes network order.
 * pkt_finish() fills the length fields the caller left automatic (IPv4
 * tot_len and checksum, IPv6 payload length, UDP length) from the bytes
 * appended so far; call it before pkt_truncate() so a cut frame still
 * announces its full length, as a real truncated frame would.
 *
 * p->hdr[] records where each appended header starts (with its name), so a
 * test can cut a frame at every byte of every header.
 */
#ifndef PC_TEST_PACKET_H
#define PC_TEST_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PKT_MAX		3500	/* BPF_PROG_TEST_RUN takes up to about 3.5 KiB */
#define PKT_MAX_HDRS	32

/* EtherTypes and IP protocol numbers the tests use. */
#define PKT_ETH_IPV4	0x0800
#define PKT_ETH_IPV6	0x86dd
#define PKT_ETH_ARP	0x0806
#define PKT_ETH_LLDP	0x88cc
#define PKT_ETH_8021Q	0x8100
#define PKT_ETH_8021AD	0x88a8

#define PKT_IP_HOPOPT	0
#define PKT_IP_ICMP	1
#define PKT_IP_TCP	6
#define PKT_IP_UDP	17
#define PKT_IP_GRE	47
#define PKT_IP_ROUTING	43
#define PKT_IP_FRAGMENT	44
#define PKT_IP_ESP	50
#define PKT_IP_AH	51
#define PKT_IP_ICMPV6	58
#define PKT_IP_NONXT	59
#define PKT_IP_DSTOPTS	60
#define PKT_IP_SCTP	132

struct pkt_hdr {
	const char *name;	/* "eth", "vlan", "ipv4", "hbh", "tcp", ... */
	size_t off;		/* first byte of the header */
	size_t len;		/* bytes the header occupies as built */
};

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
	struct pkt_hdr hdr[PKT_MAX_HDRS];
	int n_hdr;
	/* automatic length fields, -1 when absent or set by the caller */
	int ip4_off, ip6_off, udp_off;
	int ip4_auto_len, ip6_auto_len, udp_auto_len;
};

/* IPv4 header fields; zero means the default noted. */
struct pkt_ip4 {
	uint8_t src[4], dst[4];
	uint8_t proto;
	uint8_t ihl;		/* 0: 5; > 5 appends (ihl-5)*4 option bytes;
				 * < 5 is written as is, 20 bytes still built;
				 * 16 writes IHL 0 */
	uint16_t frag_offset;	/* in 8-byte units, 13 bits */
	uint8_t mf, df;
	int tot_len;		/* 0: automatic; else written as is (& 0xffff) */
	uint8_t version;	/* 0: 4 */
	uint8_t ttl;		/* 0: 64 */
};

/* Start a frame: Ethernet header with the given EtherType (host order). */
void pkt_init(struct pkt *p, uint16_t ethertype);
/* A VLAN tag (TCI) followed by the next EtherType. */
void pkt_vlan(struct pkt *p, uint16_t tci, uint16_t next_type);
/* An ARP request (28 bytes) and an LLDP body (a few TLVs). */
void pkt_arp(struct pkt *p);
void pkt_lldp(struct pkt *p);

void pkt_ipv4(struct pkt *p, const struct pkt_ip4 *ip);
/* IPv6 header; payload length automatic. src/dst: 16 bytes network order. */
void pkt_ipv6(struct pkt *p, const uint8_t src[16], const uint8_t dst[16],
	      uint8_t nexthdr);
/* Hop-by-Hop (0), Routing (43) or Destination Options (60): total length
 * bytes, a multiple of 8 (>= 8); AH (51): a multiple of 4 (>= 12 is usual,
 * >= 8 accepted). The body is padded with PadN / zeroes. */
void pkt_ip6_ext(struct pkt *p, uint8_t type, uint8_t next, size_t bytes);
/* Fragment header: offset in 8-byte units, m = more fragments. */
void pkt_ip6_frag(struct pkt *p, uint8_t next, uint16_t offset, int m,
		  uint32_t id);

/* TCP: doff 0 means 5; > 5 appends NOP options. flags: TCP flags byte. */
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t doff,
	     uint8_t flags);
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport);
/* ICMP / ICMPv6: 8 bytes (type, code, checksum, id, seq); the Neighbor
 * Discovery types get their 16-byte target address appended too. */
void pkt_icmp(struct pkt *p, uint8_t type, uint8_t code);
void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code);
/* n bytes of payload, byte i = fill + i. */
void pkt_payload(struct pkt *p, size_t n, uint8_t fill);
void pkt_raw(struct pkt *p, const void *data, size_t n);

/* Fill automatic lengths and the IPv4 header checksum. */
void pkt_finish(struct pkt *p);
/* Cut the frame to n bytes (no-op when n >= len). */
void pkt_truncate(struct pkt *p, size_t n);

/*
 * A whole frame from a description, for tables and the fuzzer. Zero fields
 * take defaults: addresses 192.0.2.1 -> 198.51.100.1 / 2001:db8::1 ->
 * 2001:db8:ffff::1, ports 40000 -> 0, ICMP echo request.
 */
#define PKT_DESC_MAX_EXT 20
struct pkt_desc {
	uint16_t tags[6];	/* VLAN TPIDs in wire order, 0 ends the list */
	uint16_t ethertype;	/* 0: from family (0x0800 / 0x86dd) */
	int family;		/* 4, 6, or 0 for non-IP (ARP, LLDP by type) */
	const char *src, *dst;	/* address literals of the family */
	uint8_t proto;		/* IPv4 protocol / last IPv6 next header */
	uint16_t sport, dport;
	uint8_t icmp_type;	/* ICMP (proto 1 in v4) / ICMPv6 (58 in v6) */
	uint8_t icmp_set;	/* 1: icmp_type is meant, even 0 */
	uint8_t doff;		/* TCP data offset, 0: 5 */
	/* IPv4 */
	uint8_t ihl, version, mf;
	int tot_len;
	uint16_t frag;		/* fragment offset, 8-byte units */
	/* IPv6: extension headers in order (0, 43, 44, 51, 60 or anything
	 * else, built as an 8-byte generic header), their byte lengths
	 * (0: 8, AH 12), and the fields of every Fragment header */
	int n_ext;
	uint8_t ext[PKT_DESC_MAX_EXT];
	uint16_t ext_len[PKT_DESC_MAX_EXT];
	uint16_t frag6;
	uint8_t m6;
	size_t payload;		/* bytes after the L4 header */
};
void pkt_build(struct pkt *p, const struct pkt_desc *d);

/* "aa bb cc ..." hex dump on stream f, 16 bytes a line. */
void pkt_hexdump(FILE *f, const uint8_t *b, size_t len);

/* Parse "10.1.2.3" / "2001:db8::1" into 4 / 16 bytes; aborts on error
 * (tests only use literals). */
void pkt_addr4(const char *s, uint8_t out[4]);
void pkt_addr6(const char *s, uint8_t out[16]);

#endif
