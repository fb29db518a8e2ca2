/*
 * log.h - levelled logging through the configured hook.
 *
 * Log where a failure is detected, once. Quiet by default (WARN). The level
 * test is inline so a disabled TRACE line costs a compare, not a format.
 */
#ifndef USTACK_CORE_LOG_H
#define USTACK_CORE_LOG_H

#include <ustack/ustack.h>

struct ustack;

void ulog_emit(struct ustack *st, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Default hook: "ustack <time> LEVEL: message" on stderr. */
void ulog_stderr(void *ctx, int level, ustack_time_t now, const char *msg);

#define ULOG(st, level, ...)                                                   \
	do {                                                                   \
		if ((level) <= (st)->cfg.log_level)                            \
			ulog_emit((st), (level), __VA_ARGS__);                 \
	} while (0)

#define ULOG_ERR(st, ...) ULOG(st, USTACK_LOG_ERROR, __VA_ARGS__)
#define ULOG_WARN(st, ...) ULOG(st, USTACK_LOG_WARN, __VA_ARGS__)
#define ULOG_INFO(st, ...) ULOG(st, USTACK_LOG_INFO, __VA_ARGS__)
#define ULOG_DEBUG(st, ...) ULOG(st, USTACK_LOG_DEBUG, __VA_ARGS__)
#define ULOG_TRACE(st, ...) ULOG(st, USTACK_LOG_TRACE, __VA_ARGS__)

/* "10.0.0.2" into a caller's buffer of IP4_STRLEN bytes. */
#define IP4_STRLEN 16

#endif
