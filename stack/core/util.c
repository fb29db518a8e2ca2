/*
 * util.c - address parsing and formatting, error strings. Pure functions.
 *
 * May touch: nothing but its arguments (and libc's inet_pton, strerror).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/ustack.h>

const char *ustack_strerror(int err)
{
	if (err >= 0)
		return "Success";
	return strerror(-err);
}

/* Dotted decimal, four parts, by inet_pton(3): a part with a leading zero
 * ("010") is refused, since inet_aton(3) would read it as octal. */
int ustack_parse_ip4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

int ustack_parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix_len)
{
	char buf[32];
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned long p = 32;

	if (!s)
		return -EINVAL;
	if (slash) {
		char *end;
		size_t n = (size_t)(slash - s);

		if (n >= sizeof(buf) || slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		memcpy(buf, s, n);
		buf[n] = 0;
		p = strtoul(slash + 1, &end, 10);
		if (*end || p > 32)
			return -EINVAL;
		s = buf;
	}
	if (ustack_parse_ip4(s, addr) < 0)
		return -EINVAL;
	*prefix_len = (uint8_t)p;
	return 0;
}

int ustack_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

char *ustack_fmt_ip4(uint32_t a, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff);
	return buf;
}
