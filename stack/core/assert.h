/*
 * assert.h - invariants (SQLite's ALWAYS/NEVER, lwIP's LWIP_ASSERT).
 *
 * USTACK_ASSERT(x) checks something that can only be false through a bug in
 * ustack, never through input: a failure prints where and aborts, in every
 * build (a corrupted TCB is worse than a crash). Input is validated with
 * ordinary checks and counted drops, never with assertions.
 */
#ifndef USTACK_CORE_ASSERT_H
#define USTACK_CORE_ASSERT_H

void ustack_assert_fail(const char *expr, const char *file, int line)
	__attribute__((noreturn));

#define USTACK_ASSERT(x)                                                       \
	((x) ? (void)0 : ustack_assert_fail(#x, __FILE__, __LINE__))

#define container_of(ptr, type, member)                                        \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define USTACK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define USTACK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define USTACK_MAX(a, b) ((a) > (b) ? (a) : (b))

#include <stddef.h>

#endif
