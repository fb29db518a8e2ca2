/*
 * timer.c - the pairing heap behind every stack timer (see timer.h).
 *
 * May touch: only st->timers and the timers linked into it.
 *
 * Pairing heap (Fredman, Sedgewick, Sleator, Tarjan 1986): a tree where each
 * node's deadline is <= its children's. meld links two trees by making the
 * later root the first child of the earlier one; removing the root melds its
 * children in two passes. Ties keep insertion order out of the picture only
 * through the deterministic sequence of operations, which is all the stack's
 * determinism needs.
 *
 * Lazy moves: a timer sits in the heap by its key, and arming it again for a
 * later deadline only raises `at` (key <= at stays a valid heap order, just
 * an early one). The common case is free: TCP pushes its retransmission
 * timer back on every ACK, and a bulk transfer that re-armed it in the heap
 * each time paid a removal and a meld per segment. When such a stale timer
 * reaches the root it is put back by its real deadline first (fix_root), so
 * the root is always exact: timer_next_at() and the firing order see the
 * true deadlines, and a stale timer costs one re-insertion per deadline it
 * reached, not one per move. Moving earlier and cancelling are immediate.
 */
#include "core/assert.h"
#include "core/stack.h"
#include "core/timer.h"

void timer_init(struct timer *t, timer_fn fn)
{
	t->at = t->key = 0;
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
	if (b->key < a->key) {
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

static void heap_unlink(struct timer_heap *h, struct timer *t)
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
}

static void heap_insert(struct timer_heap *h, struct timer *t)
{
	t->key = t->at;
	t->child = t->sibling = t->prev = NULL;
	h->root = meld(h->root, t);
}

/* A root that was moved later goes back by its real deadline, until the
 * root is exact. Each pass makes one timer exact: bounded by the count. */
static void fix_root(struct timer_heap *h)
{
	struct timer *r;

	while ((r = h->root) != NULL && r->key != r->at) {
		heap_unlink(h, r);
		heap_insert(h, r);
	}
}

static void heap_remove(struct timer_heap *h, struct timer *t)
{
	heap_unlink(h, t);
	t->armed = 0;
	h->count--;
	fix_root(h);
}

void timer_arm(struct ustack *st, struct timer *t, ustack_time_t at)
{
	struct timer_heap *h = &st->timers;

	USTACK_ASSERT(t->fn != NULL);
	if (t->armed) {
		if (at == t->at)
			return;
		if (at > t->key && t != h->root) {
			t->at = at;     /* lazy: see the top of the file */
			return;
		}
		heap_unlink(h, t);
	} else {
		h->count++;
	}
	t->at = at;
	t->armed = 1;
	heap_insert(h, t);
	fix_root(h);
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
