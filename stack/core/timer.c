/*
 * timer.c - the pairing heap behind every stack timer (see timer.h).
 * Touches only st->timers and the timers linked into it.
 *
 * Pairing heap (Fredman, Sedgewick, Sleator, Tarjan 1986): a tree where each
 * node's deadline is <= its children's. meld links two trees by making the
 * later root the first child of the earlier one; removing the root melds its
 * children in two passes. Ties keep insertion order out of the picture only
 * through the deterministic sequence of operations, which is all the stack's
 * determinism needs.
 */
#include "core/assert.h"
#include "core/stack.h"
#include "core/timer.h"

void timer_init(struct timer *t, timer_fn fn)
{
	t->at = 0;
	t->fn = fn;
	t->child = t->sibling = t->prev = NULL;
	t->armed = 0;
}

static struct timer *meld(struct timer *a, struct timer *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (b->at < a->at) {
		struct timer *t = a;
		a = b;
		b = t;
	}
	/* b becomes a's first child */
	b->prev = a;
	b->sibling = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	a->sibling = NULL;
	a->prev = NULL;
	return a;
}

/* Two-pass pairing of a sibling list, iteratively (lists can be long). */
static struct timer *merge_pairs(struct timer *first)
{
	struct timer *paired = NULL; /* pass 1 results, in reverse order */

	while (first) {
		struct timer *a = first, *b = first->sibling, *next = NULL;

		if (b)
			next = b->sibling;
		a->sibling = a->prev = NULL;
		if (b)
			b->sibling = b->prev = NULL;
		a = meld(a, b);
		a->sibling = paired; /* stack them up */
		paired = a;
		first = next;
	}
	/* pass 2: meld right to left (the stack is already reversed) */
	struct timer *root = NULL;
	while (paired) {
		struct timer *next = paired->sibling;
		paired->sibling = NULL;
		root = meld(root, paired);
		paired = next;
	}
	return root;
}

/* Cut t (not the root) and its subtree out of the tree. */
static void detach(struct timer *t)
{
	if (t->prev->child == t)
		t->prev->child = t->sibling;
	else
		t->prev->sibling = t->sibling;
	if (t->sibling)
		t->sibling->prev = t->prev;
	t->sibling = t->prev = NULL;
}

static void heap_remove(struct timer_heap *h, struct timer *t)
{
	if (t == h->root) {
		h->root = merge_pairs(t->child);
	} else {
		detach(t);
		h->root = meld(h->root, merge_pairs(t->child));
	}
	if (h->root)
		h->root->prev = NULL;
	t->child = t->sibling = t->prev = NULL;
	t->armed = 0;
	h->count--;
}

void timer_arm(struct ustack *st, struct timer *t, ustack_time_t at)
{
	struct timer_heap *h = &st->timers;

	USTACK_ASSERT(t->fn != NULL);
	if (t->armed) {
		if (at == t->at)
			return;
		heap_remove(h, t);
	}
	t->at = at;
	t->child = t->sibling = t->prev = NULL;
	t->armed = 1;
	h->root = meld(h->root, t);
	h->count++;
}

void timer_cancel(struct ustack *st, struct timer *t)
{
	if (t->armed)
		heap_remove(&st->timers, t);
}

ustack_time_t timer_next_at(const struct ustack *st)
{
	return st->timers.root ? st->timers.root->at : USTACK_TIME_NEVER;
}

void timers_run(struct ustack *st, ustack_time_t now)
{
	struct timer_heap *h = &st->timers;
	/* Bounded: see timer.h. */
	uint32_t budget = h->count;

	while (budget-- > 0 && h->root && h->root->at <= now) {
		struct timer *t = h->root;

		heap_remove(h, t);
		t->fn(st, t, now);
	}
}
