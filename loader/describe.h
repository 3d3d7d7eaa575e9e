/* SPDX-License-Identifier: GPL-2.0 */
/*
 * describe.h - what `portcullis check FILE` prints: a readable summary of a
 * parsed and compiled policy (scalar verdicts, mode, every rule with its
 * ports, services and sources and how much it decides, totals), as text or
 * as a jansson object. Pure user space.
 */
#ifndef PORTCULLIS_DESCRIBE_H
#define PORTCULLIS_DESCRIBE_H

#include <stdio.h>
#include <jansson.h>
#include "compile.h"
#include "policy.h"

/* Text summary on out. Returns 0, or -EIO when writing failed. */
int pc_describe(FILE *out, const struct pc_policy *p, const struct pc_compiled *c);

/* The same content as a new JSON object (caller json_decref()s it), NULL
 * when out of memory. Fields:
 *   file          policy file name as given
 *   hash          FNV-1a 64 of the file, 16 lowercase hex digits
 *   default, icmp, other, fragments   "allow" | "deny"
 *   mode          "enforce" | "audit"
 *   replies       { policy: "allow" | "deny", timeout_tcp, timeout_udp
 *                   (idle seconds), table_size (flows) }
 *   sets[]        { name, line, prefixes (count), any (bool) }
 *   rules[]       { id (1-based), line, col, text, verdict,
 *                   protocols: ["tcp", "udp"],
 *                   ports: [ { lo, hi, service? (single port with a name
 *                            in /etc/services), class? (a whole range
 *                            class: "well-known" | "registered" |
 *                            "dynamic") } ],
 *                   any_source (bool), sources: ["CIDR", ...] (empty when
 *                   any_source),
 *                   decides: { ports: (proto, port) entries whose verdict
 *                              is this rule's, prefixes: LPM entries
 *                              whose verdict is this rule's },
 *                   shadowed (bool: decides nothing) }
 *   totals        { rules, classes, lpm_entries, lpm_ipv4, lpm_ipv6,
 *                   tcp: { allowed, denied, by_source },
 *                   udp: { allowed, denied, by_source } }
 *                 allowed / denied count ports 1-65535 by the verdict of
 *                 their port entry (what a source no rule names gets);
 *                 by_source counts the ports whose verdict depends on the
 *                 source address first (a source class).
 */
json_t *pc_describe_json(const struct pc_policy *p, const struct pc_compiled *c);

/* The limit, block scanners and never block statements as compiled (text:
 * a "limits, blocks" section, nothing when the policy has none). JSON:
 *   limits[]        { line, text, syn, per_source, rate, burst,
 *                     interval_ns, clock: "tick"|"precise", ports: (proto,
 *                     port) entries it limits (0: all taken by earlier
 *                     limits) }
 *   block_scanners  { line, ports, window_s, block_s } | null
 *   never_block     ["CIDR" | "any", ...] */
int pc_describe_guard(FILE *out, const struct pc_policy *p, const struct pc_compiled *c);
json_t *pc_describe_guard_json(const struct pc_policy *p, const struct pc_compiled *c);
/* "tick" (jiffies, 1 / HZ) or "precise": the clock a compiled limit reads. */
const char *pc_limit_clock_name(const struct pc_limit *l);

#endif
