/*
 * stat.c - ustack-stat: netstat for a running ustack program. Connects to
 * the control socket the program opened with --ctl PATH, sends one command
 * line and prints the answer:
 *
 *   ustack-stat PATH conns     Proto Local Address Foreign Address State ...
 *   ustack-stat PATH tcp       TCP details: srtt, rto, cwnd, windows, mss
 *   ustack-stat PATH arp       the ARP cache
 *   ustack-stat PATH stats [PREFIX]   counters, e.g. "stats ip4."
 *   ustack-stat PATH iface     address, MAC, MTU, device, frame counts
 *   ustack-stat PATH filter    packet filter rules with their hit counts
 *   ustack-stat PATH all       all of the above (the default)
 *
 * It does not start a stack: it only talks to one over a UNIX socket.
 *
 * May touch: one UNIX socket to a program's control socket, stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ustack/ustack.h>

#define TIMEOUT_MS 5000

static const char usage[] =
	"Usage: ustack-stat [-z] PATH [conns|tcp|arp|stats [PREFIX]|iface|filter|all|help]\n"
	"Ask a ustack program started with --ctl PATH for its state and print "
	"it.\n\n"
	"  -z, --nonzero        leave out counters that are zero\n"
	"  -h, --help           print this help and exit\n"
	"  --version            print the version and exit\n\n"
	"Exit status: 0 on success, 1 if the program could not be reached or "
	"did\nnot understand the command, 2 on a usage error.\n";

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ustack-stat: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "ustack-stat: %s: %s (is a ustack program "
			"running with --ctl %s?)\n", path, strerror(errno),
			path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read the whole answer (the server closes when done). NULL on error. */
static char *read_answer(int fd, size_t *outlen)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);

	while (buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, TIMEOUT_MS) <= 0) {
			fprintf(stderr, "ustack-stat: no answer within %d s\n",
				TIMEOUT_MS / 1000);
			break;
		}
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			buf[len] = 0;
			*outlen = len;
			return buf;
		}
		len += (size_t)r;
	}
	free(buf);
	return NULL;
}

/* Print the answer; with nonzero, skip "name 0" counter lines. */
static void print_answer(char *text, int nonzero)
{
	for (char *line = text, *nl; *line; line = nl) {
		char name[64];
		unsigned long long v;
		char tail;

		nl = strchr(line, '\n');
		nl = nl ? nl + 1 : line + strlen(line);
		if (nonzero && sscanf(line, "%63s %llu%c", name, &v, &tail) == 3 &&
		    tail == '\n' && v == 0 && strchr(name, '.'))
			continue;
		fwrite(line, 1, (size_t)(nl - line), stdout);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"nonzero", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	char line[256] = "";
	int c, nonzero = 0, fd;
	size_t len;
	char *ans;

	while ((c = getopt_long(argc, argv, "zh", lo, NULL)) != -1) {
		if (c == 'z') {
			nonzero = 1;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		} else if (c == 'V') {
			printf("ustack-stat (ustack) %s\n", USTACK_VERSION);
			return 0;
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 3) {
		fputs(usage, stderr);
		return 2;
	}
	snprintf(line, sizeof(line), "%s%s%s\n",
		 optind + 1 < argc ? argv[optind + 1] : "all",
		 optind + 2 < argc ? " " : "",
		 optind + 2 < argc ? argv[optind + 2] : "");
	if ((fd = ctl_connect(argv[optind])) < 0)
		return 1;
	if (write_all(fd, line, strlen(line)) < 0 ||
	    !(ans = read_answer(fd, &len))) {
		close(fd);
		return 1;
	}
	close(fd);
	print_answer(ans, nonzero);
	c = strncmp(ans, "error:", 6) == 0;
	free(ans);
	return c ? 1 : 0;
}
