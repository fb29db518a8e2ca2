/*
 * draw.c - ustack-draw: pictures of what the stack did, as SVG files that
 * open in any browser.
 *
 *   ustack-draw ladder --pcap FILE [--trace LOG] [--conn N | --port P]
 *                      [--max-segments K] -o OUT.svg
 *   ustack-draw tseq   --pcap FILE [--conn N | --port P] -o OUT.svg
 *   ustack-draw states [--counts FILE] [--dot | --text] -o OUT.svg
 *   ustack-draw list   --pcap FILE
 *
 * ladder: one connection as a ladder diagram, with ustack's states from
 * the --trace log and the peer's inferred. tseq: the time-sequence graph
 * of its busier direction. states: the state diagram generated from the
 * stack's transition table (graphviz dot does the layout). list: the
 * connections in a capture, with the numbers --conn takes.
 *
 * This file: options and main; apps/draw/ holds the capture reader
 * (capture.c), the trace reader (trace.c), the SVG writer (svg.c) and one
 * file per picture. See docs/draw.md. An ordinary program on the public
 * headers and libpcap; exit 0 done, 1 error, 2 usage.
 *
 * May touch: the files it is given (read) and the one it writes, stdout and
 * stderr; never a stack.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/ustack.h>

#include "draw/draw.h"

#define DEFAULT_MAX_SEGMENTS 2000

static const char usage[] =
"Usage: ustack-draw ladder --pcap FILE [--trace LOG] [--conn N | --port P]\n"
"                          [--max-segments K] -o OUT.svg\n"
"       ustack-draw tseq   --pcap FILE [--conn N | --port P] -o OUT.svg\n"
"       ustack-draw states [--counts FILE] [--dot | --text] -o OUT.svg\n"
"       ustack-draw list   --pcap FILE\n"
"\n"
"Pictures of TCP from a capture written by ustack (--pcap), as SVG.\n"
"  ladder   ladder diagram of one connection: every segment an arrow\n"
"           (flags, relative seq/ack, window, length), each side's state\n"
"           beside its line: ustack's from --trace, the peer's inferred (?)\n"
"  tseq     time-sequence graph of the connection's busier direction: data\n"
"           sent, ACK line, window edge, retransmissions, SACK blocks\n"
"  states   the TCP state diagram, generated from the stack's transition\n"
"           table and laid out by graphviz's dot\n"
"  list     the TCP connections in a capture, numbered for --conn\n"
"\n"
"  --pcap FILE          capture to read (Ethernet or raw IP, pcap or pcapng)\n"
"  --trace LOG          the --trace output of the same run (ustack's states)\n"
"  --conn N             the Nth connection by first appearance (from 0;\n"
"                       default 0)\n"
"  --port P             the first connection with P as either port\n"
"  --max-segments K     draw at most K segments (default 2000), with a note\n"
"  --counts FILE        states: label edges with how often each was taken;\n"
"                       FILE has 'FROM TO COUNT' lines or is a --trace log\n"
"  --dot                states: write the DOT source instead of SVG\n"
"  --text               states: write the table as text, one line each\n"
"  -o, --output FILE    where to write ('-' is stdout)\n"
"  -h, --help           this text\n"
"  --version            print the version\n"
"\n"
"Exit: 0 written, 1 error (no such connection, unreadable file), 2 usage.\n";

struct opts {
	const char *cmd, *pcap, *trace, *counts, *out;
	long conn;
	long port;
	size_t max_segments;
	int format;               /* states: STATES_SVG, _DOT or _TEXT */
};

static void usage_exit(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void usage_exit(const char *fmt, ...)
{
	va_list ap;

	fputs("ustack-draw: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(ustack-draw --help for usage)\n", stderr);
	exit(2);
}

static long number(const char *s, const char *opt, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		usage_exit("%s: expected a number in range", opt);
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"pcap", required_argument, NULL, 'p'},
		{"trace", required_argument, NULL, 't'},
		{"conn", required_argument, NULL, 'c'},
		{"port", required_argument, NULL, 'P'},
		{"max-segments", required_argument, NULL, 'm'},
		{"counts", required_argument, NULL, 'C'},
		{"dot", no_argument, NULL, 'd'},
		{"text", no_argument, NULL, 'T'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->conn = -1;
	o->port = -1;
	o->max_segments = DEFAULT_MAX_SEGMENTS;
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		exit(0);
	}
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		printf("ustack-draw (ustack) %s\n", USTACK_VERSION);
		exit(0);
	}
	if (argc < 2 || argv[1][0] == '-')
		usage_exit("%s", "expected a picture: ladder, tseq, states or list");
	o->cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': o->pcap = optarg; break;
		case 't': o->trace = optarg; break;
		case 'c': o->conn = number(optarg, "--conn", 1000000); break;
		case 'P': o->port = number(optarg, "--port", 65535); break;
		case 'm':
			o->max_segments = (size_t)number(optarg, "--max-segments",
							  10000000);
			if (!o->max_segments)
				usage_exit("%s", "--max-segments: at least 1");
			break;
		case 'C': o->counts = optarg; break;
		case 'd': o->format = STATES_DOT; break;
		case 'T': o->format = STATES_TEXT; break;
		case 'o': o->out = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		case 'V': printf("ustack-draw (ustack) %s\n", USTACK_VERSION); exit(0);
		default: usage_exit("%s", "bad option");
		}
	}
	if (optind < argc)
		usage_exit("unexpected argument '%s'", argv[optind]);
	if (strcmp(o->cmd, "ladder") && strcmp(o->cmd, "tseq") &&
	    strcmp(o->cmd, "states") && strcmp(o->cmd, "list"))
		usage_exit("unknown picture '%s' (ladder, tseq, states, list)", o->cmd);
	if (!strcmp(o->cmd, "states")) {
		if (o->pcap || o->trace || o->conn >= 0 || o->port >= 0)
			usage_exit("%s", "states takes only --counts, --dot, --text and -o");
		if (!o->out)
			o->out = o->format ? "-" : NULL;
		if (!o->out)
			usage_exit("%s", "states: -o OUT.svg is required");
		return;
	}
	if (!o->pcap)
		usage_exit("%s: --pcap FILE is required", o->cmd);
	if (o->conn >= 0 && o->port >= 0)
		usage_exit("%s", "--conn and --port pick the same thing: give one");
	if (o->counts || o->format)
		usage_exit("%s", "--counts, --dot and --text are for states");
	if (o->trace && strcmp(o->cmd, "ladder"))
		usage_exit("%s", "--trace is for ladder");
	if (!o->out && strcmp(o->cmd, "list"))
		usage_exit("%s: -o OUT.svg is required", o->cmd);
}

static const struct conn *pick(const struct capture *cap, const struct opts *o)
{
	if (o->port >= 0) {
		for (size_t i = 0; i < cap->n; i++)
			if (cap->c[i].port[0] == o->port || cap->c[i].port[1] == o->port)
				return &cap->c[i];
		fprintf(stderr, "ustack-draw: %s: no TCP connection with port %ld\n",
			o->pcap, o->port);
		return NULL;
	}
	if ((size_t)(o->conn < 0 ? 0 : o->conn) < cap->n)
		return &cap->c[o->conn < 0 ? 0 : o->conn];
	fprintf(stderr, "ustack-draw: %s: %zu TCP connection%s, no --conn %ld\n",
		o->pcap, cap->n, cap->n == 1 ? "" : "s", o->conn < 0 ? 0 : o->conn);
	return NULL;
}

static void list(const struct capture *cap)
{
	printf("%-4s %-21s %-21s %8s %10s %10s\n", "conn", "endpoint 0",
	       "endpoint 1", "segments", "bytes 0>1", "bytes 1>0");
	for (size_t i = 0; i < cap->n; i++) {
		const struct conn *c = &cap->c[i];
		char a[24], b[24];

		printf("%-4zu %-21s %-21s %8zu %10llu %10llu\n", i,
		       fmt_ep(c->addr[0], c->port[0], a),
		       fmt_ep(c->addr[1], c->port[1], b), c->n,
		       (unsigned long long)c->bytes[0],
		       (unsigned long long)c->bytes[1]);
	}
}

int main(int argc, char **argv)
{
	struct capture cap;
	const struct conn *c;
	struct opts o;
	char err[512] = "";
	const char *base;
	int r;

	parse(argc, argv, &o);
	if (!strcmp(o.cmd, "states")) {
		if ((r = draw_states(o.counts, o.format, o.out, err, sizeof(err))) < 0) {
			fprintf(stderr, "ustack-draw: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (capture_read(o.pcap, &cap, err, sizeof(err)) < 0) {
		fprintf(stderr, "ustack-draw: %s\n", err);
		return 1;
	}
	if (!strcmp(o.cmd, "list")) {
		list(&cap);
		capture_free(&cap);
		return 0;
	}
	if ((c = pick(&cap, &o)) == NULL) {
		capture_free(&cap);
		return 1;
	}
	base = strrchr(o.pcap, '/') ? strrchr(o.pcap, '/') + 1 : o.pcap;
	if (!strcmp(o.cmd, "ladder")) {
		struct ladder_opts lo = {o.trace, o.max_segments, base};

		r = draw_ladder(c, &lo, o.out, err, sizeof(err));
	} else {
		r = draw_tseq(c, base, o.out, err, sizeof(err));
	}
	capture_free(&cap);
	if (r < 0) {
		fprintf(stderr, "ustack-draw: %s\n", err);
		return 1;
	}
	return 0;
}
