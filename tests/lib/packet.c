// SPDX-License-Identifier: GPL-2.0
/*
 * packet.c - the test frame builder (see packet.h). Writes every field
 * byte by byte in network order so the output does not depend on the
 * host's struct layouts. Overflowing PKT_MAX is a bug in the test: abort.
 */
#include "packet.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *grow(struct pkt *p, const char *name, size_t n)
{
	uint8_t *at;

	if (p->len + n > PKT_MAX || p->n_hdr >= PKT_MAX_HDRS) {
		fprintf(stderr, "packet: frame too long adding %s\n", name);
		abort();
	}
	at = p->b + p->len;
	memset(at, 0, n);
	p->hdr[p->n_hdr].name = name;
	p->hdr[p->n_hdr].off = p->len;
	p->hdr[p->n_hdr].len = n;
	p->n_hdr++;
	p->len += n;
	return at;
}

static void put16(uint8_t *at, uint16_t v)
{
	at[0] = v >> 8;
	at[1] = v & 0xff;
}

static void put32(uint8_t *at, uint32_t v)
{
	put16(at, v >> 16);
	put16(at + 2, v & 0xffff);
}

void pkt_init(struct pkt *p, uint16_t ethertype)
{
	static const uint8_t dst[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	uint8_t *h;

	p->len = 0;
	p->n_hdr = 0;
	p->ip4_off = p->ip6_off = p->udp_off = -1;
	p->ip4_auto_len = p->ip6_auto_len = p->udp_auto_len = 0;
	h = grow(p, "eth", 14);
	memcpy(h, dst, 6);
	memcpy(h + 6, src, 6);
	put16(h + 12, ethertype);
}

void pkt_vlan(struct pkt *p, uint16_t tci, uint16_t next_type)
{
	uint8_t *h = grow(p, "vlan", 4);

	put16(h, tci);
	put16(h + 2, next_type);
}

void pkt_arp(struct pkt *p)
{
	uint8_t *h = grow(p, "arp", 28);

	put16(h, 1);		/* Ethernet */
	put16(h + 2, 0x0800);	/* IPv4 */
	h[4] = 6;
	h[5] = 4;
	put16(h + 6, 1);	/* request */
	memcpy(h + 8, p->b + 6, 6);
	put32(h + 14, 0x0a000002);
	put32(h + 24, 0x0a000001);
}

void pkt_lldp(struct pkt *p)
{
	/* chassis id, port id, TTL, end: the minimum LLDPDU */
	static const uint8_t body[] = {
		0x02, 0x07, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x04, 0x03, 0x05, 0x65, 0x30,
		0x06, 0x02, 0x00, 0x78,
		0x00, 0x00,
	};
	memcpy(grow(p, "lldp", sizeof(body)), body, sizeof(body));
}

void pkt_ipv4(struct pkt *p, const struct pkt_ip4 *ip)
{
	unsigned ihl = ip->ihl ? ip->ihl & 0xf : 5;
	size_t hlen = ihl > 5 ? ihl * 4 : 20;
	uint8_t *h = grow(p, "ipv4", hlen);
	uint16_t frag = ip->frag_offset & 0x1fff;

	h[0] = (uint8_t)(((ip->version ? ip->version : 4) << 4) | (ihl & 0xf));
	put16(h + 4, 0x1234);	/* id */
	if (ip->mf)
		frag |= 0x2000;
	if (ip->df)
		frag |= 0x4000;
	put16(h + 6, frag);
	h[8] = ip->ttl ? ip->ttl : 64;
	h[9] = ip->proto;
	memcpy(h + 12, ip->src, 4);
	memcpy(h + 16, ip->dst, 4);
	/* options: NOPs, then End of Options in the last byte */
	if (hlen > 20) {
		memset(h + 20, 1, hlen - 20);
		h[hlen - 1] = 0;
	}
	p->ip4_off = (int)(h - p->b);
	p->ip4_auto_len = ip->tot_len == 0;
	if (!p->ip4_auto_len)
		put16(h + 2, (uint16_t)ip->tot_len);
}

void pkt_ipv6(struct pkt *p, const uint8_t src[16], const uint8_t dst[16],
	      uint8_t nexthdr)
{
	uint8_t *h = grow(p, "ipv6", 40);

	put32(h, 0x60000000);
	h[6] = nexthdr;
	h[7] = 64;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	p->ip6_off = (int)(h - p->b);
	p->ip6_auto_len = 1;
}

void pkt_ip6_ext(struct pkt *p, uint8_t type, uint8_t next, size_t bytes)
{
	const char *name = type == PKT_IP_HOPOPT ? "hbh" :
			   type == PKT_IP_ROUTING ? "routing" :
			   type == PKT_IP_DSTOPTS ? "dstopts" :
			   type == PKT_IP_AH ? "ah" : "ext";
	uint8_t *h = grow(p, name, bytes);

	h[0] = next;
	if (type == PKT_IP_AH) {
		/* AH: length in 4-byte units minus 2; SPI and sequence */
		h[1] = (uint8_t)(bytes / 4 - 2);
		if (bytes >= 12) {
			put32(h + 4, 0x1000);
			put32(h + 8, 1);
		}
		return;
	}
	h[1] = (uint8_t)(bytes / 8 - 1);
	if (type == PKT_IP_ROUTING) {
		h[2] = 4;	/* segment routing type, segments left 0 */
		return;
	}
	/* options area: PadN options (type 1, length <= 255), a Pad1 (0) for
	 * a last single byte, so the header is valid however long */
	for (size_t at = 2; at < bytes;) {
		size_t left = bytes - at, n;

		if (left == 1) {
			h[at] = 0;
			break;
		}
		n = left - 2 > 255 ? 255 : left - 2;
		if (left - 2 - n == 1)
			n--;	/* never leave a lone byte after a PadN */
		h[at] = 1;
		h[at + 1] = (uint8_t)n;
		at += n + 2;
	}
}

void pkt_ip6_frag(struct pkt *p, uint8_t next, uint16_t offset, int m,
		  uint32_t id)
{
	uint8_t *h = grow(p, "frag", 8);

	h[0] = next;
	put16(h + 2, (uint16_t)((offset << 3) | (m ? 1 : 0)));
	put32(h + 4, id);
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t doff,
	     uint8_t flags)
{
	unsigned d = doff ? doff : 5;
	size_t hlen = d > 5 ? d * 4 : 20;
	uint8_t *h = grow(p, "tcp", hlen);

	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, 1000);
	h[12] = (uint8_t)((d & 0xf) << 4);
	h[13] = flags;
	put16(h + 14, 65535);
	if (hlen > 20)
		memset(h + 20, 1, hlen - 20);	/* NOP options */
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *h = grow(p, "udp", 8);

	put16(h, sport);
	put16(h + 2, dport);
	p->udp_off = (int)(h - p->b);
	p->udp_auto_len = 1;
}

void pkt_icmp(struct pkt *p, uint8_t type, uint8_t code)
{
	uint8_t *h = grow(p, "icmp", 8);

	h[0] = type;
	h[1] = code;
	put16(h + 4, 0x4242);
	put16(h + 6, 1);
}

void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code)
{
	int nd = type >= 135 && type <= 137;
	uint8_t *h = grow(p, "icmp6", nd ? 24 : 8);

	h[0] = type;
	h[1] = code;
	if (nd) {
		h[8] = 0xfe;	/* target fe80::1 */
		h[9] = 0x80;
		h[23] = 1;
	}
}

void pkt_payload(struct pkt *p, size_t n, uint8_t fill)
{
	uint8_t *h = grow(p, "payload", n);

	for (size_t i = 0; i < n; i++)
		h[i] = (uint8_t)(fill + i);
}

void pkt_raw(struct pkt *p, const void *data, size_t n)
{
	memcpy(grow(p, "raw", n), data, n);
}

void pkt_finish(struct pkt *p)
{
	if (p->ip4_off >= 0) {
		uint8_t *h = p->b + p->ip4_off;
		unsigned hlen = (h[0] & 0xf) * 4;
		uint32_t sum = 0;

		if (p->ip4_auto_len)
			put16(h + 2, (uint16_t)(p->len - p->ip4_off));
		if (hlen < 20)
			hlen = 20;
		put16(h + 10, 0);
		for (unsigned i = 0; i < hlen && p->ip4_off + i + 1 < p->len; i += 2)
			sum += (uint32_t)(h[i] << 8 | h[i + 1]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		put16(h + 10, (uint16_t)~sum);
	}
	if (p->ip6_off >= 0 && p->ip6_auto_len)
		put16(p->b + p->ip6_off + 4, (uint16_t)(p->len - p->ip6_off - 40));
	if (p->udp_off >= 0 && p->udp_auto_len)
		put16(p->b + p->udp_off + 4, (uint16_t)(p->len - p->udp_off));
}

void pkt_truncate(struct pkt *p, size_t n)
{
	if (n < p->len)
		p->len = n;
}

static void build_l4(struct pkt *p, const struct pkt_desc *d, int v6)
{
	uint16_t sport = d->sport ? d->sport : 40000;
	uint8_t icmp = d->icmp_set || d->icmp_type ? d->icmp_type : v6 ? 128 : 8;

	switch (d->proto) {
	case PKT_IP_TCP:
		pkt_tcp(p, sport, d->dport, d->doff, 0x02);
		break;
	case PKT_IP_UDP:
		pkt_udp(p, sport, d->dport);
		break;
	case PKT_IP_ICMP:
		pkt_icmp(p, icmp, 0);
		break;
	case PKT_IP_ICMPV6:
		pkt_icmp6(p, icmp, 0);
		break;
	default:
		/* ESP, GRE, SCTP, ...: something that starts like ports, so a
		 * parser that reads it as TCP/UDP would find one */
		pkt_udp(p, sport, d->dport);
		p->udp_off = -1;
		p->hdr[p->n_hdr - 1].name = "l4other";
		break;
	}
	if (d->payload)
		pkt_payload(p, d->payload, 0x40);
}

void pkt_build(struct pkt *p, const struct pkt_desc *d)
{
	uint16_t etype = d->ethertype ? d->ethertype :
			 d->family == 4 ? PKT_ETH_IPV4 :
			 d->family == 6 ? PKT_ETH_IPV6 : PKT_ETH_ARP;
	int ntags = 0;

	while (ntags < (int)(sizeof(d->tags) / sizeof(d->tags[0])) && d->tags[ntags])
		ntags++;
	pkt_init(p, ntags ? d->tags[0] : etype);
	for (int i = 0; i < ntags; i++)
		pkt_vlan(p, (uint16_t)(100 + i), i + 1 < ntags ? d->tags[i + 1] : etype);

	if (d->family == 4) {
		struct pkt_ip4 ip = {
			.proto = d->proto, .ihl = d->ihl, .frag_offset = d->frag,
			.mf = d->mf, .tot_len = d->tot_len, .version = d->version,
		};
		pkt_addr4(d->src ? d->src : "192.0.2.1", ip.src);
		pkt_addr4(d->dst ? d->dst : "198.51.100.1", ip.dst);
		pkt_ipv4(p, &ip);
		build_l4(p, d, 0);
	} else if (d->family == 6) {
		uint8_t src[16], dst[16];

		pkt_addr6(d->src ? d->src : "2001:db8::1", src);
		pkt_addr6(d->dst ? d->dst : "2001:db8:ffff::1", dst);
		pkt_ipv6(p, src, dst, d->n_ext ? d->ext[0] : d->proto);
		for (int i = 0; i < d->n_ext && i < PKT_DESC_MAX_EXT; i++) {
			uint8_t t = d->ext[i];
			uint8_t next = i + 1 < d->n_ext ? d->ext[i + 1] : d->proto;
			size_t len = d->ext_len[i] ? d->ext_len[i] : t == PKT_IP_AH ? 12 : 8;

			if (t == PKT_IP_FRAGMENT)
				pkt_ip6_frag(p, next, d->frag6, d->m6, 0x5151);
			else
				pkt_ip6_ext(p, t, next, len);
		}
		build_l4(p, d, 1);
	} else if (etype == PKT_ETH_ARP) {
		pkt_arp(p);
	} else if (etype == PKT_ETH_LLDP) {
		pkt_lldp(p);
	} else {
		pkt_payload(p, 46, 0);
	}
	pkt_finish(p);
}

void pkt_hexdump(FILE *f, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x%s", b[i], (i % 16 == 15 || i + 1 == len) ? "\n" : " ");
	if (!len)
		fprintf(f, "(empty)\n");
}

void pkt_addr4(const char *s, uint8_t out[4])
{
	if (inet_pton(AF_INET, s, out) != 1) {
		fprintf(stderr, "packet: bad IPv4 literal %s\n", s);
		abort();
	}
}

void pkt_addr6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1) {
		fprintf(stderr, "packet: bad IPv6 literal %s\n", s);
		abort();
	}
}
