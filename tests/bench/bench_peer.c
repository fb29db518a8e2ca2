/*
 * bench_peer.c - the kernel side of `make bench` where a shell tool would
 * be what is measured: a Python loop managed about 12 000 connections a
 * second, and `head | nc` moves data in 8 KiB writes through a pipe.
 *
 *   bench_peer -c HOST PORT N [SECONDS]
 *        N sequential connections: connect, read to EOF, close. Prints
 *        connections per second (stops early after SECONDS, default 30).
 *   bench_peer -s PORT [BYTES]
 *        a daytime-like server for the kernel-to-kernel row: accept, send
 *        one line (or BYTES zeros), close; until killed.
 *   bench_peer -f HOST PORT N BYTES
 *        short flows: N sequential fresh connections, each connect, read
 *        to EOF, close, expecting BYTES (a `-s PORT BYTES` server). Prints
 *        the median milliseconds of one (connect to EOF). With ustack-run
 *        either end runs on ustack in a program that lives through all N.
 *   bench_peer -m N
 *        kernel memory per idle TCP connection end: N connected pairs over
 *        loopback (each end a socket, as an application holds it), kernel
 *        slab memory (sum of active objects x size in /proc/slabinfo; root)
 *        before and after, divided by 2N. Prints the bytes per end.
 *   bench_peer -w HOST PORT MB [WRITE]
 *        connect, write MB MiB of zeros in WRITE-byte writes (default
 *        1 MiB), shut down writing and read until the peer closes (so the
 *        time includes the last byte's arrival). Prints MB/s.
 *
 * BENCH_PEER_CC=NAME in the environment sets the congestion control of
 * the sockets that send (-w, -s; TCP_CONGESTION, root may name any the
 * kernel has): a machine's default may be BBR where Linux's is CUBIC.
 *
 * Plain kernel sockets; nothing of ustack is used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one_conn(const struct sockaddr_in *sa)
{
	char buf[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n == 0 ? 0 : -1;
}

static int client(const char *host, int port, long n, double limit)
{
	struct sockaddr_in sa;
	double t0 = now_s(), t;
	long i;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bench_peer: bad address %s\n", host);
		return 2;
	}
	for (i = 0; i < n; i++) {
		if (one_conn(&sa) < 0) {
			fprintf(stderr, "bench_peer: connection %ld: %s\n", i,
				strerror(errno));
			return 1;
		}
		if (now_s() - t0 > limit)
			break;
	}
	t = now_s() - t0;
	printf("%.0f\n", (double)i / (t > 0 ? t : 1e-9));
	return 0;
}

/* TCP_CONGESTION from BENCH_PEER_CC, if set; -1 (said) when refused. */
static int set_cc(int fd)
{
	const char *cc = getenv("BENCH_PEER_CC");

	if (!cc || !*cc)
		return 0;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0) {
		fprintf(stderr, "bench_peer: congestion control %s: %s\n", cc,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int server(int port, long bytes)
{
	static char zeros[65536];
	static const char line[] = "Thursday, November 26, 2026 12:00:00-UTC\r\n";
	struct sockaddr_in sa;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1024) < 0) {
		perror("bench_peer: listen");
		return 1;
	}
	if (set_cc(l) < 0)
		return 1;
	for (;;) {
		int c = accept(l, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("bench_peer: accept");
			return 1;
		}
		if (bytes <= 0 && write(c, line, sizeof(line) - 1) < 0) {
			/* the client went away: nothing to do */
		}
		for (long left = bytes; left > 0;) {
			ssize_t n = write(c, zeros, left < (long)sizeof(zeros)
						    ? (size_t)left : sizeof(zeros));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;       /* the client went away */
			left -= n;
		}
		close(c);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int flows(const char *host, int port, long n, long bytes)
{
	struct sockaddr_in sa;
	double *ms = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
	char buf[65536];

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (!ms || n <= 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bench_peer: bad address %s or N\n", host);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		double t0 = now_s();
		long got = 0;
		ssize_t r;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "bench_peer: connection %ld: %s\n", i,
				strerror(errno));
			return 1;
		}
		while ((r = read(fd, buf, sizeof(buf))) > 0 ||
		       (r < 0 && errno == EINTR))
			got += r > 0 ? r : 0;
		close(fd);
		if (r < 0 || got != bytes) {
			fprintf(stderr, "bench_peer: connection %ld: %ld of %ld bytes\n",
				i, got, bytes);
			return 1;
		}
		ms[i] = (now_s() - t0) * 1e3;
	}
	qsort(ms, (size_t)n, sizeof(double), cmp_double);
	printf("%.2f\n", ms[(n - 1) / 2]);
	free(ms);
	return 0;
}

static int writer(const char *host, int port, long mb, long wsize)
{
	struct sockaddr_in sa;
	long long left = (long long)mb << 20;
	char *buf, tmp[4096];
	double t0, t;
	int fd;

	if (wsize <= 0 || (buf = calloc(1, (size_t)wsize)) == NULL)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bench_peer: connect");
		return 1;
	}
	if (set_cc(fd) < 0)
		return 1;
	t0 = now_s();
	while (left > 0) {
		ssize_t n = write(fd, buf, left < wsize ? (size_t)left : (size_t)wsize);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("bench_peer: write");
			return 1;
		}
		left -= n;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, tmp, sizeof(tmp)) > 0)
		;
	t = now_s() - t0;
	close(fd);
	free(buf);
	printf("%.1f\n", (double)mb / (t > 0 ? t : 1e-9));
	return 0;
}

/* Bytes in every slab cache's active objects (/proc/slabinfo 2.x). */
static long long slab_bytes(void)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512], name[64];
	long long total = 0, active, num, size;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num,
			   &size) == 4 && name[0] != '#')
			total += active * size;
	fclose(f);
	return total;
}

static int memory(long n)
{
	struct rlimit rl = {.rlim_cur = (rlim_t)(4 * n + 64),
			    .rlim_max = (rlim_t)(4 * n + 64)};
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	long long before, after;
	int l, *fds = calloc((size_t)(2 * n), sizeof(int));

	if (!fds || setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("bench_peer: setrlimit");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) < 0) {
		perror("bench_peer: listen");
		return 1;
	}
	before = slab_bytes();
	for (long i = 0; i < n; i++) {
		fds[2 * i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[2 * i] < 0 ||
		    connect(fds[2 * i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    (fds[2 * i + 1] = accept(l, NULL, NULL)) < 0) {
			perror("bench_peer: connect");
			return 1;
		}
	}
	usleep(200000);           /* let deferred frees settle */
	after = slab_bytes();
	if (before < 0 || after < 0) {
		fprintf(stderr, "bench_peer: /proc/slabinfo: not readable\n");
		return 1;
	}
	printf("%lld\n", (after - before) / (2 * n));
	for (long i = 0; i < 2 * n; i++)
		close(fds[i]);
	close(l);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "-c") == 0)
		return client(argv[2], atoi(argv[3]), atol(argv[4]),
			      argc > 5 ? atof(argv[5]) : 30.0);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "-s") == 0)
		return server(atoi(argv[2]), argc > 3 ? atol(argv[3]) : 0);
	if (argc == 6 && strcmp(argv[1], "-f") == 0)
		return flows(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]));
	if (argc == 3 && strcmp(argv[1], "-m") == 0)
		return memory(atol(argv[2]));
	if (argc >= 5 && strcmp(argv[1], "-w") == 0)
		return writer(argv[2], atoi(argv[3]), atol(argv[4]),
			      argc > 5 ? atol(argv[5]) : 1L << 20);
	fprintf(stderr, "usage: bench_peer -c HOST PORT N [SECONDS] | -s PORT [BYTES] | "
		"-f HOST PORT N BYTES | -m N | -w HOST PORT MB [WRITE]\n");
	return 2;
}
