/*
 * app.c - the common option set and stack set-up shared by every ustack
 * program: parse the options, open the TAP device (and give the kernel side
 * an address), stack the pcap tee and the fault injector on it, create the
 * stack, and take it all down again in reverse.
 *
 * Apps may read the clock and print; the stack itself does neither.
 *
 * May touch: the stack and the driver chain it builds (public API), the
 * clock, stderr.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "ctl.h"

enum {
	OPT_DEV = 0x100,
	OPT_ADDR,
	OPT_GATEWAY,
	OPT_MAC,
	OPT_MTU,
	OPT_HOST_ADDR,
	OPT_PCAP,
	OPT_LOG,
	OPT_TRACE,
	OPT_CTL,
	OPT_SEED,
	OPT_FAULT,
	OPT_OFFLOAD,
	OPT_FILTER,
	OPT_MAX_SOCKETS,
	OPT_LINGER_EXIT,
	OPT_SET,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option common_longopts[] = {
	{"dev", required_argument, NULL, OPT_DEV},
	{"addr", required_argument, NULL, OPT_ADDR},
	{"gateway", required_argument, NULL, OPT_GATEWAY},
	{"mac", required_argument, NULL, OPT_MAC},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"host-addr", required_argument, NULL, OPT_HOST_ADDR},
	{"pcap", required_argument, NULL, OPT_PCAP},
	{"log", required_argument, NULL, OPT_LOG},
	{"trace", no_argument, NULL, OPT_TRACE},
	{"ctl", required_argument, NULL, OPT_CTL},
	{"seed", required_argument, NULL, OPT_SEED},
	{"fault", required_argument, NULL, OPT_FAULT},
	{"offload", required_argument, NULL, OPT_OFFLOAD},
	{"filter", required_argument, NULL, OPT_FILTER},
	{"max-sockets", required_argument, NULL, OPT_MAX_SOCKETS},
	{"linger-exit", required_argument, NULL, OPT_LINGER_EXIT},
	{"set", required_argument, NULL, OPT_SET},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
};
#define N_COMMON (sizeof(common_longopts) / sizeof(common_longopts[0]))

static const char common_help[] =
"Stack options (the same for every ustack program):\n"
"  --dev NAME           TAP device to create, or attach to if it exists\n"
"                       (default tap0)\n"
"  --addr A.B.C.D/N     the stack's address and subnet (default 10.0.0.2/24)\n"
"  --gateway A.B.C.D    default route (default: none)\n"
"  --mac MAC            the stack's Ethernet address\n"
"                       (default 02:00:00:00:00:02)\n"
"  --mtu N              IP MTU, 68..65535 (default 1500)\n"
"  --host-addr A.B.C.D/N|none\n"
"                       address the kernel side of the TAP and bring it up\n"
"                       (default: when this program creates the device, the\n"
"                       first other address of --addr's subnet, 10.0.0.1/24)\n"
"  --pcap FILE          write every frame in and out to FILE (pcap format,\n"
"                       what went on the wire; tcpdump -r / Wireshark)\n"
"  --log LEVEL          error, warn, info, debug or trace (default warn)\n"
"  --trace              log every TCP state transition (and --log info)\n"
"  --ctl PATH           answer \"conns\", \"arp\", \"stats\", \"iface\" on a UNIX\n"
"                       socket at PATH (read it with: ustack-stat PATH)\n"
"  --seed N             fixed seed for the stack's randomness\n"
"  --fault SPEC         inject faults, e.g. loss=1%,dup=0.5%,reorder=1%,\n"
"                       corrupt=100ppm,delay=5ms,jitter=1ms,seed=7,rx=1\n"
"  --offload auto|on|off checksum offload and TSO/GRO on the TAP device\n"
"                       (IFF_VNET_HDR; auto: on when this program creates\n"
"                       the device or the existing one was made with\n"
"                       vnet_hdr, else off)\n"
"  --filter RULE        packet filter rule, checked in order at IP input (first\n"
"                       match wins, default allow; repeatable, at most 64),\n"
"                       e.g. 'drop tcp dport 23', 'reject udp', 'allow icmp',\n"
"                       'drop tcp from 10.0.0.0/24 sport 1000-2000'\n"
"                       (docs/filter.md; hits: ustack-stat PATH filter)\n"
"  --max-sockets N      the stack's socket descriptors, 16..1048576\n"
"                       (default 4096); TCP control blocks (TIME_WAIT\n"
"                       included) at least 2N (default 16384)\n"
"  --linger-exit SECONDS at exit, keep the stack running up to SECONDS so\n"
"                       closing connections finish their FIN exchange and\n"
"                       TIME_WAIT ones answer a retransmitted FIN (for two\n"
"                       RTOs, 0.5 s at least) (default 1; 0: exit at once)\n"
"  --set NAME=VALUE     any numeric field of struct ustack_config, e.g.\n"
"                       tcp_max_orphans=2000, icmp_dst_burst=10,\n"
"                       tcp_initial_window_segments=4 (repeatable; applied\n"
"                       after the options above; docs/robustness.md)\n"
"  -h, --help           print this help and exit\n"
"  --version            print the version and exit\n";

static void print_usage(const struct app_desc *d, FILE *f)
{
	fprintf(f, "Usage: %s %s\n%s\n\n", d->name, d->synopsis, d->summary);
	if (d->help && *d->help)
		fprintf(f, "Options:\n%s\n", d->help);
	fputs(common_help, f);
}

void app_usage_error(const struct app_desc *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", d->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static __attribute__((noreturn)) void usage_fail(const struct app_desc *d)
{
	fprintf(stderr, "Usage: %s %s\nTry '%s --help' for more.\n", d->name,
		d->synopsis, d->name);
	exit(APP_EXIT_USAGE);
}

void app_usage_exit(const struct app *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", a->desc->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_fail(a->desc);
}

int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int app_parse_seconds(const char *s, ustack_time_t *out_us)
{
	uint64_t whole = 0, frac = 0, scale = 1000000;
	const char *p = s;

	if (!s || ((*p < '0' || *p > '9') && *p != '.'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 100000000)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p)
		return -1;
	*out_us = whole * 1000000 + frac;
	return 0;
}

int app_parse_port(const char *s, uint16_t *out)
{
	uint64_t v;

	if (app_parse_u64(s, 1, 65535, &v) < 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int parse_log_level(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug",
					    "trace"};

	for (int i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (s[0] >= '0' && s[0] <= '4' && !s[1])
		return s[0] - '0';
	return -1;
}

static void opts_default(struct app_opts *o)
{
	struct ustack_config c;

	ustack_config_default(&c);
	memset(o, 0, sizeof(*o));
	o->dev = "tap0";
	o->addr = c.addr;
	o->prefix_len = c.prefix_len;
	memcpy(o->mac, c.mac, 6);
	o->log_level = USTACK_LOG_WARN;
	o->host_mode = APP_HOST_AUTO;
	o->max_sockets = c.max_sockets;
	o->linger_exit_us = APP_LINGER_EXIT_DEFAULT_US;
}

/* One common option; exits on a bad value. */
static void common_opt(struct app *a, int c, const char *arg)
{
	struct app_opts *o = &a->o;
	uint64_t v;

	switch (c) {
	case OPT_DEV:
		if (!*arg || strlen(arg) >= 16)
			app_usage_exit(a, "--dev: a device name of 1..15 characters");
		o->dev = arg;
		break;
	case OPT_ADDR:
		if (ustack_parse_cidr(arg, &o->addr, &o->prefix_len) < 0 ||
		    !strchr(arg, '/') || o->addr == 0)
			app_usage_exit(a, "--addr: expected A.B.C.D/N, got '%s'", arg);
		break;
	case OPT_GATEWAY:
		if (ustack_parse_ip4(arg, &o->gateway) < 0)
			app_usage_exit(a, "--gateway: expected A.B.C.D, got '%s'", arg);
		break;
	case OPT_MAC:
		if (ustack_parse_mac(arg, o->mac) < 0 || (o->mac[0] & 1))
			app_usage_exit(a, "--mac: expected a unicast MAC like 02:00:00:00:00:02, got '%s'", arg);
		break;
	case OPT_MTU:
		if (app_parse_u64(arg, 68, 65535, &v) < 0)
			app_usage_exit(a, "--mtu: expected 68..65535, got '%s'", arg);
		o->mtu = (uint16_t)v;
		break;
	case OPT_HOST_ADDR:
		if (strcmp(arg, "none") == 0) {
			o->host_mode = APP_HOST_NONE;
			break;
		}
		if (ustack_parse_cidr(arg, &o->host_addr, &o->host_prefix_len) < 0 ||
		    !strchr(arg, '/'))
			app_usage_exit(a, "--host-addr: expected A.B.C.D/N or none, got '%s'", arg);
		o->host_mode = APP_HOST_SET;
		break;
	case OPT_PCAP:
		o->pcap = arg;
		break;
	case OPT_LOG:
		if ((o->log_level = parse_log_level(arg)) < 0)
			app_usage_exit(a, "--log: expected error, warn, info, debug or trace, got '%s'", arg);
		break;
	case OPT_TRACE:
		o->trace = 1;
		break;
	case OPT_CTL:
		if (!*arg || strlen(arg) >= 100)
			app_usage_exit(a, "--ctl: a socket path of 1..99 characters");
		o->ctl = arg;
		break;
	case OPT_SEED:
		if (app_parse_u64(arg, 0, UINT64_MAX, &o->seed) < 0)
			app_usage_exit(a, "--seed: expected a number, got '%s'", arg);
		o->seed_set = 1;
		break;
	case OPT_FAULT:
		o->fault = arg;
		break;
	case OPT_OFFLOAD:
		if (strcmp(arg, "auto") == 0)
			o->offload = USTACK_TAP_OFFLOAD_AUTO;
		else if (strcmp(arg, "on") == 0)
			o->offload = USTACK_TAP_OFFLOAD_ON;
		else if (strcmp(arg, "off") == 0)
			o->offload = USTACK_TAP_OFFLOAD_OFF;
		else
			app_usage_exit(a, "--offload: expected auto, on or off, got '%s'", arg);
		break;
	case OPT_FILTER: {
		char err[160];

		if (ustack_filter_check(arg, NULL, 0, err, sizeof(err)) < 0)
			app_usage_exit(a, "--filter '%s': %s", arg, err);
		if (o->nfilter >= USTACK_FILTER_MAX)
			app_usage_exit(a, "--filter: at most %d rules",
				       USTACK_FILTER_MAX);
		o->filter[o->nfilter++] = arg;
		break;
	}
	case OPT_MAX_SOCKETS:
		if (app_parse_u64(arg, 16, 1048576, &v) < 0)
			app_usage_exit(a, "--max-sockets: expected 16..1048576, got '%s'", arg);
		o->max_sockets = (uint32_t)v;
		break;
	case OPT_LINGER_EXIT:
		if (app_parse_seconds(arg, &o->linger_exit_us) < 0 ||
		    o->linger_exit_us > USTACK_SEC(3600))
			app_usage_exit(a, "--linger-exit: expected seconds, 0..3600, got '%s'", arg);
		break;
	case OPT_SET: {
		/* Checked now against a scratch configuration, applied by
		 * fill_config() once the options above are in. */
		struct ustack_config scratch;
		const char *eq = strchr(arg, '=');
		char name[64];
		int e;

		if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name) ||
		    app_parse_u64(eq + 1, 0, UINT64_MAX, &v) < 0)
			app_usage_exit(a, "--set: expected NAME=NUMBER, got '%s'", arg);
		memcpy(name, arg, (size_t)(eq - arg));
		name[eq - arg] = '\0';
		ustack_config_default(&scratch);
		e = ustack_config_set(&scratch, name, v);
		if (e == -ENOENT)
			app_usage_exit(a, "--set: '%s' is not a numeric field of struct ustack_config", name);
		if (e < 0)
			app_usage_exit(a, "--set %s: %s does not fit the field", name, eq + 1);
		if (o->nset >= APP_MAX_SET)
			app_usage_exit(a, "--set: at most %d settings", APP_MAX_SET);
		o->set[o->nset++] = arg;
		break;
	}
	}
}

/* ---- address checks (after all options: they depend on each other) ---- */

static uint32_t prefix_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* Why addr can not be a host's unicast address at all, or NULL. */
static const char *not_unicast(uint32_t addr)
{
	if ((addr >> 24) == 0)
		return "is in 0.0.0.0/8 (\"this network\", RFC 1122 3.2.1.3)";
	if ((addr >> 24) == 127)
		return "is a loopback address (127.0.0.0/8 never leaves a host)";
	if ((addr >> 28) == 0xe)
		return "is a multicast address (224.0.0.0/4)";
	if ((addr >> 28) == 0xf)
		return "is reserved or the limited broadcast (240.0.0.0/4)";
	return NULL;
}

/* Why addr is not a usable host of the subnet net/len, or NULL. */
static const char *not_host_of(uint32_t addr, uint32_t net, uint8_t len)
{
	uint32_t m = prefix_mask(len);
	const char *why;

	if ((addr & m) != (net & m))
		return "is not on the subnet";
	if ((why = not_unicast(addr)) != NULL)
		return why;
	/* RFC 3021: a /31 has two hosts and no broadcast; a /32 one host */
	if (len <= 30 && (addr & ~m) == 0)
		return "is the network address (host part all zeros) of the subnet";
	if (len <= 30 && (addr & ~m) == ~m)
		return "is the broadcast address (host part all ones) of the subnet";
	return NULL;
}

static void check_addresses(struct app *a)
{
	const struct app_opts *o = &a->o;
	uint32_t m = prefix_mask(o->prefix_len), net = o->addr & m;
	char ip[16], sub[16];
	const char *why;

	ustack_fmt_ip4(net, sub);
	if (o->prefix_len == 0)
		app_usage_exit(a, "--addr: a /0 subnet would put every address "
			       "on the link; give the real prefix length (e.g. /24)");
	if (o->prefix_len == 32)
		app_usage_exit(a, "--addr: a /32 leaves no other host on the link "
			       "(not even a gateway); use /31 or shorter");
	if ((why = not_host_of(o->addr, o->addr, o->prefix_len)) != NULL)
		app_usage_exit(a, "--addr %s/%u: %s; the stack needs a unicast "
			       "host address", ustack_fmt_ip4(o->addr, ip),
			       o->prefix_len, why);
	if (o->gateway) {
		if (o->gateway == o->addr)
			app_usage_exit(a, "--gateway %s is the stack's own address",
				       ustack_fmt_ip4(o->gateway, ip));
		if ((why = not_host_of(o->gateway, o->addr, o->prefix_len)) != NULL)
			app_usage_exit(a, "--gateway %s %s %s/%u; a gateway "
				       "must be another host on the stack's "
				       "subnet",
				       ustack_fmt_ip4(o->gateway, ip), why, sub,
				       o->prefix_len);
	}
	if (o->host_mode == APP_HOST_SET) {
		if (o->host_addr == o->addr)
			app_usage_exit(a, "--host-addr %s is the stack's own address; "
				       "the kernel side needs another one",
				       ustack_fmt_ip4(o->host_addr, ip));
		if ((why = not_host_of(o->host_addr, o->addr, o->prefix_len)) != NULL)
			app_usage_exit(a, "--host-addr %s %s %s/%u; the kernel "
				       "side must be another host on the "
				       "stack's subnet",
				       ustack_fmt_ip4(o->host_addr, ip), why, sub,
				       o->prefix_len);
		if (o->host_prefix_len == 0 || o->host_prefix_len == 32)
			app_usage_exit(a, "--host-addr: a /%u prefix leaves the "
				       "kernel side no subnet with the stack; use "
				       "--addr's (/%u)", o->host_prefix_len,
				       o->prefix_len);
	}
}

/* getopt_long's table: the app's long options, then the common ones. */
static struct option *merge_longopts(const struct app_desc *d)
{
	size_t n = 0, i;
	struct option *lo;

	while (d->longopts && d->longopts[n].name)
		n++;
	lo = calloc(n + N_COMMON + 1, sizeof(*lo));
	if (!lo) {
		perror(d->name);
		exit(APP_EXIT_FAIL);
	}
	for (i = 0; i < n; i++)
		lo[i] = d->longopts[i];
	for (i = 0; i < N_COMMON; i++)
		lo[n + i] = common_longopts[i];
	return lo;
}

static void check_fault_spec(struct app *a)
{
	struct ustack_fault_config fc;
	char err[128];

	if (!a->o.fault)
		return;
	ustack_fault_config_default(&fc);
	if (app_parse_fault(a->o.fault, &fc, err, sizeof(err)) < 0)
		app_usage_exit(a, "--fault: %s", err);
}

int app_parse(struct app *a, const struct app_desc *d, int argc, char **argv)
{
	char shortopts[64];
	struct option *lo;
	int c, nargs;

	memset(a, 0, sizeof(*a));
	a->desc = d;
	opts_default(&a->o);
	snprintf(shortopts, sizeof(shortopts), "h%s",
		 d->shortopts ? d->shortopts : "");
	lo = merge_longopts(d);
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			print_usage(d, stdout);
			exit(APP_EXIT_OK);
		} else if (c == OPT_VERSION) {
			printf("%s (ustack) %s\n", d->name, USTACK_VERSION);
			exit(APP_EXIT_OK);
		} else if (c == '?' || c == ':') {
			usage_fail(d);
		} else if (c >= OPT_DEV && c <= OPT_SET) {
			common_opt(a, c, optarg);
		} else if (!d->opt || d->opt(d->ctx, c, optarg) < 0) {
			usage_fail(d);
		}
	}
	free(lo);
	check_addresses(a);
	if (d->check && d->check(d->ctx, &a->o) < 0)
		usage_fail(d);
	nargs = argc - optind;
	if (nargs < d->min_args)
		app_usage_exit(a, "missing argument");
	if (nargs > d->max_args)
		app_usage_exit(a, "unexpected argument '%s'",
			       argv[optind + d->max_args]);
	check_fault_spec(a);
	return optind;
}

/* ---- bringing the stack up --------------------------------------------- */

static int dev_exists(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return access(path, F_OK) == 0;
}

/* The kernel side's address when none was given: the first address of our
 * subnet that is not ours (10.0.0.1 for 10.0.0.2/24). */
static void pick_host_addr(struct app *a)
{
	const struct app_opts *o = &a->o;
	uint32_t mask, net;

	a->host_addr = 0;
	if (o->host_mode == APP_HOST_SET) {
		a->host_addr = o->host_addr;
		a->host_prefix_len = o->host_prefix_len;
		return;
	}
	if (o->host_mode == APP_HOST_NONE || dev_exists(o->dev))
		return;
	if (o->prefix_len >= 32)
		return;
	a->host_prefix_len = o->prefix_len;
	if (o->prefix_len == 31) {
		a->host_addr = o->addr ^ 1u;
		return;
	}
	mask = o->prefix_len ? ~0u << (32 - o->prefix_len) : 0;
	net = o->addr & mask;
	a->host_addr = (net | 1u) == o->addr ? (net | 2u) : (net | 1u);
}

static void fill_config(struct app *a)
{
	struct ustack_config *c = &a->cfg;
	const struct app_opts *o = &a->o;

	ustack_config_default(c);
	memcpy(c->mac, o->mac, 6);
	c->addr = o->addr;
	c->prefix_len = o->prefix_len;
	c->gateway = o->gateway;
	if (o->mtu)
		c->mtu = o->mtu;
	if (o->seed_set) {
		c->seed_from_os = 0;
		c->seed = o->seed;
	}
	c->log_level = o->log_level;
	if (o->max_sockets)
		c->max_sockets = o->max_sockets;
	/* Room for a TIME_WAIT entry behind every socket: the 4-tuple hash
	 * is sized from tcp_max_conns at start (O(1) lookup at that load). */
	if (o->max_sockets && c->tcp_max_conns < 2 * o->max_sockets)
		c->tcp_max_conns = 2 * o->max_sockets;
	if (o->trace) {
		c->trace_tcp = 1;
		if (c->log_level < USTACK_LOG_INFO)
			c->log_level = USTACK_LOG_INFO;
	}
	if (a->log_fn) {
		c->log_fn = a->log_fn;
		c->log_ctx = a->log_ctx;
		c->trace_tcp = c->trace_tcp || a->log_transitions;
	}
	for (unsigned i = 0; i < o->nset; i++) { /* checked by app_parse */
		const char *eq = strchr(o->set[i], '=');
		char name[64];
		uint64_t v = 0;

		memcpy(name, o->set[i], (size_t)(eq - o->set[i]));
		name[eq - o->set[i]] = '\0';
		app_parse_u64(eq + 1, 0, UINT64_MAX, &v);
		ustack_config_set(c, name, v);
	}
}

/* The device chain, from the wire up: tap <- pcap tee <- fault <- stack.
 * The capture sits next to the wire, so it shows what really went out
 * and came in (a frame the fault injector dropped on send is not in it). */
static int open_devices(struct app *a)
{
	struct ustack_tap_config tc = {0};
	struct ustack_dev *dev = NULL, *top;
	char err[256] = "";
	int r;

	pick_host_addr(a);
	tc.name = a->o.dev;
	tc.mtu = a->o.mtu;
	tc.host_addr = a->host_addr;
	tc.host_prefix_len = a->host_prefix_len;
	tc.bring_up = a->host_addr != 0;
	tc.offload = a->o.offload;
	r = ustack_tap_open(&dev, &tc, &a->tap_created, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", a->desc->name,
			err[0] ? err : ustack_strerror(r));
		return APP_EXIT_FAIL;
	}
	if (a->o.pcap) {
		r = ustack_pcap_tee(&top, dev, a->o.pcap, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "%s: --pcap %s: %s\n", a->desc->name,
				a->o.pcap, err[0] ? err : ustack_strerror(r));
			ustack_dev_close(dev);
			return APP_EXIT_FAIL;
		}
		dev = a->pcap_tee = top;
	}
	if (a->o.fault) {
		struct ustack_fault_config fc;

		ustack_fault_config_default(&fc);
		app_parse_fault(a->o.fault, &fc, err, sizeof(err));
		r = ustack_fault_wrap(&top, dev, &fc);
		if (r < 0) {
			fprintf(stderr, "%s: --fault: %s\n", a->desc->name,
				ustack_strerror(r));
			ustack_dev_close(dev);
			return APP_EXIT_FAIL;
		}
		dev = a->fault = top;
	}
	a->dev = dev;
	return 0;
}

int app_start(struct app *a)
{
	int r;

	if ((r = open_devices(a)) != 0)
		return r;
	fill_config(a);
	a->started_at = app_now();
	r = ustack_create(&a->st, &a->cfg, a->dev, a->started_at);
	if (r < 0) {
		fprintf(stderr, "%s: cannot create the stack: %s\n",
			a->desc->name, ustack_strerror(r));
		if (r == -EINVAL)
			fprintf(stderr, "%s: check --addr, --gateway (must be "
				"on the subnet), --mac and --mtu\n",
				a->desc->name);
		ustack_dev_close(a->dev);
		a->dev = NULL;
		return APP_EXIT_FAIL;
	}
	for (unsigned i = 0; i < a->o.nfilter; i++) /* checked by app_parse */
		ustack_filter_add(a->st, a->o.filter[i], NULL, 0);
	if (a->o.ctl) {
		char err[256] = "";

		if (app_ctl_open(&a->ctl, a, a->o.ctl, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: --ctl %s: %s\n", a->desc->name,
				a->o.ctl, err);
			app_stop(a);
			return APP_EXIT_FAIL;
		}
	}
	return 0;
}

/* ---- lingering at exit -------------------------------------------------- */

/* What the exit still waits for (RFC 9293 3.6): a closing handshake
 * running, or only TIME_WAITs, which must answer a retransmitted FIN with
 * an ACK (RFC 9293 3.10.7.4). */
enum exit_wait { EXIT_DONE, EXIT_TIME_WAIT, EXIT_CLOSING };

static int closing_state(int state)
{
	return state == USTACK_TCP_FIN_WAIT_1 || state == USTACK_TCP_FIN_WAIT_2 ||
	       state == USTACK_TCP_CLOSING || state == USTACK_TCP_LAST_ACK;
}

/* Which of enum exit_wait applies now; with only TIME_WAITs, *rto_us is
 * the largest RTO among them. (Takes the stack.) */
static enum exit_wait exit_pending(struct ustack *st, ustack_time_t *rto_us)
{
	struct ustack_conn_info v[256], *all = v;
	enum exit_wait w = EXIT_DONE;
	int n;

	*rto_us = 0;
	ustack_lock(st);
	n = ustack_conn_list(st, v, 256);
	if (n > 256 && (all = malloc((size_t)n * sizeof(*all))) != NULL)
		n = ustack_conn_list(st, all, n);
	else if (n > 256)
		n = 256;  /* no memory: judge by the first ones */
	ustack_unlock(st);
	for (int i = 0; i < n && w != EXIT_CLOSING; i++) {
		if (all[i].proto != IPPROTO_TCP)
			continue;
		if (closing_state(all[i].state)) {
			w = EXIT_CLOSING;
		} else if (all[i].state == USTACK_TCP_TIME_WAIT) {
			w = EXIT_TIME_WAIT;
			if (all[i].rto_us > *rto_us)
				*rto_us = all[i].rto_us;
		}
	}
	if (all != v)
		free(all);
	return w;
}

/* How long TIME_WAITs keep a program once every handshake is done: long
 * enough for the peer's first retransmission of its FIN, one of its RTOs
 * after the first (RFC 6298; Linux's is 200 ms at least): twice ours, and
 * not less than this. The kernel keeps TIME_WAIT for 2 MSL after the
 * process exits; a program can not, and should not wait that long. */
#define EXIT_TIME_WAIT_MIN_US USTACK_MS(500)

/*
 * Keep the stack running for up to --linger-exit while connections are
 * closing, and then while TIME_WAITs may still see the peer's FIN again
 * (EXIT_TIME_WAIT_MIN_US or two RTOs), so that the peer's FIN (or its
 * retransmission, when our ACK was lost) is answered as the kernel would
 * answer it. The event loop is driven from here; a threaded runtime that
 * the program stopped is resumed for the while (ustack_destroy stops it
 * again).
 */
static void linger_exit(struct app *a)
{
	ustack_time_t end = app_now() + a->o.linger_exit_us, tw_until = 0, rto;
	enum exit_wait w;
	int threaded = 0;

	if (a->o.linger_exit_us == 0 || exit_pending(a->st, &rto) == EXIT_DONE)
		return;
	app_log(a, USTACK_LOG_INFO, "waiting up to %.1f s for closing "
		"connections (--linger-exit)",
		(double)a->o.linger_exit_us / 1e6);
	while (app_now() < end && (w = exit_pending(a->st, &rto)) != EXIT_DONE) {
		ustack_time_t now = app_now(), left = end - now;
		int ms = left > USTACK_MS(20) ? 20 : (int)(left / 1000) + 1;

		if (w == EXIT_CLOSING) {
			tw_until = 0;
		} else if (!tw_until) {
			tw_until = now + (2 * rto > EXIT_TIME_WAIT_MIN_US ?
					  2 * rto : EXIT_TIME_WAIT_MIN_US);
		} else if (now >= tw_until) {
			break;
		}
		if (threaded) {
			struct timespec ts = {0, (long)ms * 1000000L};

			nanosleep(&ts, NULL);
		} else if (ustack_loop_run_once(a->st, ms) == -EINVAL) {
			/* not the event loop: the threaded runtime */
			int r = ustack_thread_start(a->st, NULL, NULL);

			if (r < 0 && r != -EBUSY) /* -EBUSY: it runs */
				return;
			threaded = 1;
		}
	}
}

int app_pcap_check(struct app *a)
{
	struct ustack_pcap_tee_stats ts;

	if (!a->pcap_tee || ustack_pcap_tee_get_stats(a->pcap_tee, &ts) < 0 ||
	    !ts.error)
		return 0;
	if (!a->pcap_warned) {
		a->pcap_warned = 1;
		fprintf(stderr, "%s: --pcap %s: cannot write the capture: %s; "
			"it is incomplete from here on (the program goes on and "
			"will exit with status 1)\n", a->desc->name, a->o.pcap,
			strerror(ts.error));
	}
	return 1;
}

void app_stop(struct app *a)
{
	struct ustack_pcap_tee_stats ts = {0};
	int pcap_failed = 0;

	app_signals_attach(NULL);
	if (a->ctl) {
		app_ctl_close(a->ctl);
		a->ctl = NULL;
	}
	if (a->st) {
		linger_exit(a);
		ustack_destroy(a->st);
		a->st = NULL;
	}
	if (a->pcap_tee) {
		/* the last buffered frames: their error shows only now */
		ustack_pcap_tee_flush(a->pcap_tee);
		pcap_failed = app_pcap_check(a);
		ustack_pcap_tee_get_stats(a->pcap_tee, &ts);
		a->pcap_tee = NULL;
	}
	if (a->dev) {
		ustack_dev_close(a->dev);
		a->dev = NULL;
		a->fault = NULL;
	}
	if (pcap_failed) {
		fprintf(stderr, "%s: --pcap %s: capture incomplete: at most "
			"%llu frames written, %llu not written (%s)\n",
			a->desc->name, a->o.pcap, (unsigned long long)ts.frames,
			(unsigned long long)ts.lost, strerror(ts.error));
		exit(APP_EXIT_FAIL);
	}
}

void app_announce(const struct app *a, const char *what)
{
	char ip[16], mac[18], host[16];
	const uint8_t *m = a->cfg.mac;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	fprintf(stderr, "%s: %s/%u (%s) on %s%s", a->desc->name,
		ustack_fmt_ip4(a->cfg.addr, ip), a->cfg.prefix_len, mac,
		a->o.dev, a->tap_created ? " (created)" : "");
	if (a->host_addr)
		fprintf(stderr, ", kernel side %s/%u",
			ustack_fmt_ip4(a->host_addr, host), a->host_prefix_len);
	if (a->o.pcap)
		fprintf(stderr, ", pcap %s", a->o.pcap);
	if (a->o.ctl)
		fprintf(stderr, ", ctl %s", a->o.ctl);
	if (a->o.fault)
		fprintf(stderr, ", fault %s", a->o.fault);
	if (a->dev && a->dev->offloads)
		fprintf(stderr, ", offloads%s%s",
			(a->dev->offloads & USTACK_DEV_TX_TSO4) ? " tso" : "",
			(a->dev->offloads & USTACK_DEV_RX_GRO) ? " gro" : "");
	fprintf(stderr, ": %s\n", what);
}

_Static_assert(APP_POLL_EXTRA >= 2 + CTL_MAX_CLIENTS, "room for ctl");

int app_poll(struct app *a, struct ustack_pollfd *fds, unsigned n,
	     int timeout_ms)
{
	unsigned extra = 0, nctl = 0;
	int r, ready = 0;

	if (app_stopping())
		return -EINTR;
	fds[n] = (struct ustack_pollfd){.sd = -1, .os_fd = app_signal_fd(),
					.events = POLLIN};
	extra = 1;
	if (a->ctl) {
		int t = app_ctl_timeout_ms(a->ctl);

		nctl = app_ctl_pollfds(a->ctl, fds + n + 1, APP_POLL_EXTRA - 1);
		extra += nctl;
		if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
			timeout_ms = t;
	}
	/* a capture's write error shows in the tee's stats: look at least
	 * once a second (the tee flushes at that pace) */
	if (a->pcap_tee && !a->pcap_warned &&
	    (timeout_ms < 0 || timeout_ms > 1000))
		timeout_ms = 1000;
	r = ustack_poll(a->st, fds, n + extra, timeout_ms);
	if (a->pcap_tee && !a->pcap_warned)
		app_pcap_check(a);
	if (r < 0)
		return r;
	if (nctl)
		app_ctl_handle(a->ctl, fds + n + 1, nctl);
	if (app_stopping())
		return -EINTR;
	for (unsigned k = 0; k < n; k++)
		ready += fds[k].revents != 0;
	return ready;
}

int app_tcp_settled(struct ustack *st)
{
	struct ustack_conn_info v[64];
	int n = ustack_conn_list(st, v, 64);

	if (n > 64)
		return 0;
	for (int i = 0; i < n; i++) {
		if (v[i].proto == IPPROTO_TCP && v[i].state != USTACK_TCP_LISTEN &&
		    v[i].state != USTACK_TCP_TIME_WAIT &&
		    v[i].state != USTACK_TCP_CLOSED)
			return 0;
	}
	return 1;
}

void app_linger(struct app *a, ustack_time_t max_us)
{
	ustack_time_t end = app_now() + max_us;

	while (!app_tcp_settled(a->st) && app_now() < end) {
		struct ustack_pollfd fds[APP_POLL_EXTRA];

		if (app_poll(a, fds, 0, 10) == -EINTR && app_stopping())
			break;
	}
}

/* ---- small helpers ------------------------------------------------------ */

ustack_time_t app_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ustack_time_t)ts.tv_sec * 1000000u +
	       (ustack_time_t)ts.tv_nsec / 1000u;
}

void app_log(const struct app *a, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > a->o.log_level && !(a->o.trace && level <= USTACK_LOG_INFO))
		return;
	fprintf(stderr, "%s: ", a->desc->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *app_fmt_addr(uint32_t addr, uint16_t port, char *buf)
{
	char ip[16];

	snprintf(buf, 22, "%s:%u", ustack_fmt_ip4(addr, ip), port);
	return buf;
}

void app_sockaddr(struct sockaddr_in *sin, uint32_t addr, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	sin->sin_port = htons(port);
}

int app_server_socket(struct ustack *st, int type, uint16_t port, int backlog)
{
	struct sockaddr_in sin;
	int one = 1, sd, r;

	sd = ustack_socket(st, AF_INET, type | SOCK_NONBLOCK, 0);
	if (sd < 0)
		return sd;
	ustack_setsockopt(st, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	app_sockaddr(&sin, 0, port);
	r = ustack_bind(st, sd, (struct sockaddr *)&sin, sizeof(sin));
	if (r == 0 && type == SOCK_STREAM)
		r = ustack_listen(st, sd, backlog);
	if (r < 0) {
		ustack_close(st, sd);
		return r;
	}
	return sd;
}
