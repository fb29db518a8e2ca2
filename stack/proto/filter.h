/*
 * filter.h - the packet filter's state and its hook at IPv4 input (the
 * public half is <ustack/filter.h>). May touch: icmp_send_error, the
 * reject handlers of IPv4's protocol table (TCP's RST), the FILTER
 * counters.
 */
#ifndef USTACK_PROTO_FILTER_H
#define USTACK_PROTO_FILTER_H

#include <stdint.h>

#include <ustack/filter.h>
#include <ustack/ustack.h>

struct ustack;
struct pkb;

/*
 * pkb as ip4_input delivers it (data at the transport header, pkb->ip set,
 * reassembled). Returns 0 to go on, or 1 when the filter dropped or
 * rejected it (pkb consumed).
 */
int filter_input(struct ustack *st, struct pkb *pkb);

#endif
