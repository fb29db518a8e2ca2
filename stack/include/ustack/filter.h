/*
 * filter.h - a packet filter in the stack: an ordered list of rules checked
 * at IPv4 input, after reassembly and before the datagram reaches ICMP, UDP
 * or TCP. The first rule that matches decides; when none does the packet is
 * allowed. Every rule counts the packets and bytes it matched.
 *
 * A rule is text (docs/filter.md has the grammar):
 *
 *   ACTION [PROTO] [from ADDR[/N]] [to ADDR[/N]] [sport P[-Q]]
 *          [dport P[-Q]] [type N] [with REPLY]
 *
 *   ACTION  allow | drop | reject
 *   PROTO   tcp | udp | icmp | all (default all)
 *   REPLY   (reject only) rst | port-unreachable | admin-prohibited
 *
 * e.g. "drop tcp dport 23", "reject udp", "allow icmp",
 * "drop tcp from 10.0.0.0/24 sport 1000-2000". reject answers TCP with a
 * RST and UDP with ICMP port unreachable (what a closed port says), other
 * protocols with ICMP administratively prohibited (RFC 1812 5.2.7.1, code
 * 13); replies are rate-limited like ICMP errors (cfg.icmp_rate_*).
 *
 * At most USTACK_FILTER_MAX rules. Threaded runtime: hold ustack_lock().
 */
#ifndef USTACK_FILTER_H
#define USTACK_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ustack;

#define USTACK_FILTER_MAX 64
#define USTACK_FILTER_TEXT 128 /* room for any rule's canonical text */

/* One rule as listed: its canonical text and its counters. */
struct ustack_filter_info {
	char text[USTACK_FILTER_TEXT]; /* "drop tcp dport 23" */
	uint64_t hits;                 /* packets matched */
	uint64_t bytes;                /* IP bytes of those packets */
};

/*
 * Parse a rule without a stack: 0, or -EINVAL with a sentence in err
 * ("dport: expected a port or a range like 1000-2000, got 'x'"). canon
 * (may be NULL) gets the rule's canonical text.
 */
int ustack_filter_check(const char *rule, char *canon, size_t canonlen,
			char *err, size_t errlen);

/* Append a rule: its index (0 = first checked), -EINVAL (err says why) or
 * -ENOSPC when USTACK_FILTER_MAX rules are there already. */
int ustack_filter_add(struct ustack *st, const char *rule, char *err,
		      size_t errlen);

/* Copy up to max rules into out, in order. Returns how many rules exist. */
int ustack_filter_list(const struct ustack *st, struct ustack_filter_info *out,
		       int max);

/* Remove every rule (the filter allows everything again). */
void ustack_filter_clear(struct ustack *st);

#ifdef __cplusplus
}
#endif
#endif
