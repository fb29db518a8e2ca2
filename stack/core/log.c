/*
 * log.c - formatting for ULOG() and the default stderr hook.
 *
 * May touch: nothing but the configured hook.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"
#include "core/stack.h"

static const char *const level_name[] = {"ERROR", "WARN", "INFO", "DEBUG",
					 "TRACE"};

void ulog_stderr(void *ctx, int level, ustack_time_t now, const char *msg)
{
	(void)ctx;
	if (level < 0 || level > USTACK_LOG_TRACE)
		level = USTACK_LOG_TRACE;
	fprintf(stderr, "ustack %llu.%06llu %s: %s\n",
		(unsigned long long)(now / 1000000),
		(unsigned long long)(now % 1000000), level_name[level], msg);
}

void ulog_emit(struct ustack *st, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (st->cfg.log_fn)
		st->cfg.log_fn(st->cfg.log_ctx, level, st->now, buf);
}
