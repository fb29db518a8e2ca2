/*
 * timer.h - deadlines, not ticks.
 *
 * Every timer in the stack (ARP retry, reassembly timeout, each TCP timer of
 * each connection, ...) is a `struct timer` embedded in its owner, armed with
 * an absolute deadline. The stack keeps them in one intrusive pairing heap,
 * so arming never allocates (and so never fails), the earliest deadline is
 * O(1), and arm/cancel are O(log n) amortised. Idle timers cost nothing.
 * ustack_run_timers() fires what is due and returns the next deadline.
 *
 * Owners get back from the timer to themselves with container_of().
 */
#ifndef USTACK_CORE_TIMER_H
#define USTACK_CORE_TIMER_H

#include <stdint.h>

#include <ustack/ustack.h>

struct ustack;
struct timer;

typedef void (*timer_fn)(struct ustack *st, struct timer *t, ustack_time_t now);

struct timer {
	ustack_time_t at;      /* deadline, valid while armed */
	ustack_time_t key;     /* where it sits in the heap: <= at (lazy) */
	timer_fn fn;           /* called once when due (then disarmed) */
	struct timer *child;   /* pairing heap: first child */
	struct timer *sibling; /* next sibling */
	struct timer *prev;    /* parent if first child, else left sibling */
	uint8_t armed;
};

struct timer_heap {
	struct timer *root;
	uint32_t count;
};

void timer_init(struct timer *t, timer_fn fn);
/* Arm, or move an armed timer, to fire at `at`. Moving an armed timer
 * later costs nothing now (it keeps its place in the heap and moves when
 * it comes up): a retransmission timer pushed back by every ACK. */
void timer_arm(struct ustack *st, struct timer *t, ustack_time_t at);
void timer_cancel(struct ustack *st, struct timer *t);
static inline int timer_armed(const struct timer *t) { return t->armed; }
/* Earliest armed deadline, or USTACK_TIME_NEVER. */
ustack_time_t timer_next_at(const struct ustack *st);
/* Fire timers with at <= now, earliest first. One call fires at most as many
 * timers as were armed when it began, so a callback that re-arms for <= now
 * can not loop forever; the rest fire on the next call. */
void timers_run(struct ustack *st, ustack_time_t now);

#endif
