/*
 * drv.h - what the drivers in drivers/ share, internal to them: the
 * sentence an open function hands back through its (err, errlen)
 * arguments (dev.h). Touches only the caller's buffer.
 */
#ifndef USTACK_DRIVERS_DRV_H
#define USTACK_DRIVERS_DRV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* printf into err, cut to errlen bytes; nothing when err is NULL or
 * errlen is 0 (the caller did not ask for a sentence). */
__attribute__((format(printf, 3, 4)))
static inline void drv_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif
