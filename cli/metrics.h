/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - one Prometheus scrape: read every portcullis instance visible
 * in this network namespace from its pins and render the text exposition
 * format (version 0.0.4). Used by `portcullis exporter`.
 *
 * Families (labels), documented for users in docs/JSON.md:
 *   portcullis_packets_total / portcullis_bytes_total
 *       {interface, protocol, port, verdict}   port: a number or "other";
 *       at most top + 1 ports per protocol, chosen as series.h says
 *   portcullis_class_packets_total / portcullis_class_bytes_total
 *       {interface, protocol, class, verdict}
 *   portcullis_bucket_packets_total / portcullis_bucket_bytes_total
 *       {interface, bucket, verdict}
 *   portcullis_rule_packets_total {interface, rule, verdict}   rule: a
 *       number (at most 200), default, source, other
 *   portcullis_policy_mode {interface, mode} 1 or 0 (enforce, audit: both)
 *   portcullis_policy_version, portcullis_policy_rules,
 *   portcullis_policy_applied_timestamp_seconds {interface}
 *   portcullis_policy_applies_total {interface}
 *   portcullis_attached {interface, mode}
 *   portcullis_scrape_skipped_instances, portcullis_scrape_duration_seconds
 * verdict is pass, drop or audit.
 */
#ifndef PORTCULLIS_CLI_METRICS_H
#define PORTCULLIS_CLI_METRICS_H

#include <stdio.h>

struct pc_metrics_opts {
	unsigned top;		/* port series per protocol and instance */
	int log_skips;		/* report skipped instances on stderr */
};

/* Render one scrape into *buf (malloc'd, *len bytes, NUL-terminated).
 * An instance that cannot be read is skipped with a comment line, never
 * fails the scrape. Returns 0 or -ENOMEM. Not reentrant: callers
 * serialise scrapes. Between scrapes it keeps each instance open (with
 * its chosen series), and closes one as soon as a scrape no longer finds
 * it or finds another program pinned in its place. All label values are
 * valid UTF-8: other bytes are written as \\xHH. */
int pc_metrics_scrape(const struct pc_metrics_opts *o, char **buf, size_t *len);

#endif
