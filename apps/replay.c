/*
 * replay.c - ustack-replay: pin the stack's behaviour down with captures.
 *
 *   ustack-replay [-v] [--update] [--expect FILE] CASE_DIR
 *   ustack-replay --from CAPTURE [--addr A/N] [--mac MAC] [--service LINE]...
 *                 [--start T] [--end T] CASE_DIR
 *
 * A case directory holds in.pcap (frames into the stack), out.pcap (frames
 * the stack is expected to send), case.conf (addresses, seed, times and the
 * services the case opens; the format is in tests/replay/README.md) and
 * case.txt (what the case pins, for people). The runner creates a stack with
 * a fixed seed on an in-memory device at the case's virtual start time,
 * opens the services (driven by hand through the public socket API, in the
 * same order of calls as ustack-inetd and ustack-nc), feeds every inbound
 * frame at its recorded time, fires the timers at their deadlines in between
 * and after the last frame up to the case's end, and compares every frame
 * sent (bytes, and time within the tolerance) with out.pcap. The first
 * difference is decoded layer by layer. --update writes out.pcap instead;
 * --from turns any Ethernet capture into a case.
 *
 * An ordinary program: public headers and libpcap; no clock is read.
 * Exit: 0 match, 1 mismatch, 2 usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define SNAPLEN 262144u
#define MAX_SVC 16
#define MAX_CONNS 256
#define MAX_TOK 32
#define ECHO_BUF (64u * 1024)   /* as ustack-inetd */
#define INETD_ROUNDS 8          /* as ustack-inetd */
#define NC_BUF (1u << 20)       /* as ustack-nc */
#define NC_LINGER_US USTACK_SEC(3)
#define PASS_ROUNDS 64          /* poll/handle rounds per event */
#define RT_BATCH 64             /* frames per runtime pass (RT_DEV_BUDGET) */
#define MAX_STEPS 5000000u      /* events in one run: more is a stuck clock */
#define EXIT_MISMATCH 1
#define EXIT_ERROR 2

/* ---- frames and capture files -------------------------------------------- */

struct frame {
	ustack_time_t at;
	uint32_t len;
	uint8_t *data;
};

struct frames {
	struct frame *v;
	size_t n, cap;
};

static int frames_add(struct frames *fs, ustack_time_t at, const void *p,
		      uint32_t len)
{
	struct frame *f;

	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 64;
		struct frame *v = realloc(fs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		fs->v = v;
		fs->cap = cap;
	}
	f = &fs->v[fs->n];
	if ((f->data = malloc(len ? len : 1)) == NULL)
		return -ENOMEM;
	memcpy(f->data, p, len);
	f->len = len;
	f->at = at;
	fs->n++;
	return 0;
}

static void frames_free(struct frames *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->v[i].data);
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

/* Read an Ethernet capture (pcap or pcapng). Stamps in microseconds. */
static int pcap_load(const char *path, struct frames *fs)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	int r;

	p = pcap_open_offline_with_tstamp_precision(path,
			PCAP_TSTAMP_PRECISION_MICRO, err);
	if (!p) {
		fprintf(stderr, "ustack-replay: %s\n", err);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "ustack-replay: %s: link type %s, not Ethernet "
			"(capture on the TAP device, not 'any')\n", path,
			pcap_datalink_val_to_name(pcap_datalink(p)));
		pcap_close(p);
		return -1;
	}
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		ustack_time_t at = (ustack_time_t)h->ts.tv_sec * 1000000u +
				   (ustack_time_t)h->ts.tv_usec;

		if (h->caplen == 0)
			continue;
		if (frames_add(fs, at, d, h->caplen) < 0) {
			r = -1;
			break;
		}
	}
	if (r == -1)
		fprintf(stderr, "ustack-replay: %s: %s\n", path, pcap_geterr(p));
	pcap_close(p);
	return r == -1 ? -1 : 0;
}

/* Write frames as a pcap (written aside, then renamed into place). */
static int pcap_save(const char *path, const struct frames *fs)
{
	char tmp[4096];
	pcap_t *dead;
	pcap_dumper_t *dump;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, SNAPLEN,
			PCAP_TSTAMP_PRECISION_MICRO);
	if (!dead || (dump = pcap_dump_open(dead, tmp)) == NULL) {
		fprintf(stderr, "ustack-replay: %s: %s\n", tmp,
			dead ? pcap_geterr(dead) : "cannot open");
		if (dead)
			pcap_close(dead);
		return -1;
	}
	for (size_t i = 0; i < fs->n; i++) {
		struct pcap_pkthdr h;

		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(fs->v[i].at / 1000000u);
		h.ts.tv_usec = (suseconds_t)(fs->v[i].at % 1000000u);
		h.caplen = h.len = fs->v[i].len;
		pcap_dump((u_char *)dump, &h, fs->v[i].data);
	}
	pcap_dump_close(dump);
	pcap_close(dead);
	if (rename(tmp, path) < 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* ---- the device: everything the stack sends, with its `now` ------------ */

struct rdev {
	struct ustack_dev base;
	struct frames *out;
};

static int rdev_transmit(struct ustack_dev *d, const void *f, size_t len,
			 ustack_time_t now)
{
	struct rdev *r = (struct rdev *)d;

	if (len > SNAPLEN || frames_add(r->out, now, f, (uint32_t)len) < 0)
		return -ENOBUFS;
	return 0;
}

static long rdev_receive(struct ustack_dev *d, void *buf, size_t cap,
			 ustack_time_t now)
{
	(void)d, (void)buf, (void)cap, (void)now;
	return 0;
}

static void rdev_close(struct ustack_dev *d)
{
	free(d);
}

static const struct ustack_dev_ops rdev_ops = {
	.transmit = rdev_transmit,
	.receive = rdev_receive,
	.close = rdev_close,
};

/* ---- the case ------------------------------------------------------------ */

enum svc_kind {
	SVC_UDP_ECHO, SVC_UDP_DISCARD, SVC_TCP_ECHO, SVC_TCP_DISCARD,
	SVC_TCP_DAYTIME, SVC_TCP_CHARGEN, SVC_TCP_HOLD, SVC_NC_CONNECT,
	SVC_NC_LISTEN,
};

enum nc_state { NC_IDLE, NC_CONNECTING, NC_COPY, NC_LINGER, NC_DONE };

/* A time in case.conf: absolute, or +DUR from a base resolved later. */
struct tspec {
	ustack_time_t v;
	int rel, set;
};

struct svc {
	enum svc_kind kind;
	uint32_t ip;                 /* nc-connect: the peer */
	uint16_t port;
	struct tspec at;             /* nc-connect: when to connect */
	struct tspec read_at;        /* tcp-hold: start reading */
	struct tspec close_at;       /* tcp-hold: close connections */
	ustack_time_t wait;          /* nc-connect: give up (nc -w), 0 never */
	int no_stdin;                /* nc -d: never read stdin, never FIN */
	uint8_t *data;               /* daytime line; nc stdin */
	size_t dlen;
	int sd;                      /* socket or listener, -1 */
	/* ustack-nc's state, field for field (see apps/nc.c) */
	enum nc_state nc;
	size_t rd;                   /* stdin bytes read */
	size_t len, off;             /* to_net buffer positions */
	int in_eof, net_eof, shut_sent, pump_now;
	ustack_time_t deadline;      /* connect give-up, linger end */
};

struct conn {
	int sd;                      /* -1: free */
	struct svc *svc;
	uint8_t *buf;                /* echo: data to send back */
	uint32_t len, off, pos;
	int rd_eof;
};

struct replay {
	const char *dir;
	struct ustack_config cfg;
	ustack_time_t start, input_at, tol;
	struct tspec end;
	int input_at_set;
	struct svc svc[MAX_SVC];
	int nsvc;
	struct conn conns[MAX_CONNS];
	uint8_t *scratch;            /* NC_BUF bytes for reads */
	uint8_t chargen[95 * 74];
	struct ustack *st;
	struct frames in, out, exp;
	ustack_time_t end_at;
	ustack_time_t tol_override;  /* --tolerance, 0: none */
	int exited, verbose;
	char err[256];
};

__attribute__((format(printf, 2, 3)))
static int conf_err(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* "1.5" "1.5s" "200ms" "1500us", optionally "+" first: relative. */
static int parse_time(const char *s, struct tspec *t)
{
	uint64_t ip = 0, frac = 0, scale = 1, mul = 1000000u;
	const char *p = s;

	t->rel = *p == '+';
	p += t->rel;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		ip = ip * 10 + (uint64_t)(*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale < 1000000u)
				frac = frac * 10 + (uint64_t)(*p - '0'), scale *= 10;
	if (!strcmp(p, "ms"))
		mul = 1000u;
	else if (!strcmp(p, "us"))
		mul = 1u;
	else if (*p && strcmp(p, "s"))
		return -1;
	t->v = ip * mul + frac * mul / scale;
	t->set = 1;
	return 0;
}

static int parse_dur(const char *s, ustack_time_t *out)
{
	struct tspec t;

	if (parse_time(s, &t) < 0)
		return -1;
	*out = t.v;
	return 0;
}

static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return (errno || end == s || *end || *out > max || *s == '-') ? -1 : 0;
}

/* Split a line into tokens in place: blanks separate, "..." quotes with
 * C escapes (\r \n \t \\ \" \xHH), # starts a comment. */
static int tokenize(char *s, char **tok, int max)
{
	int n = 0;

	for (;;) {
		char *w;

		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == max)
			return -1;
		if (*s != '"') {
			tok[n++] = s;
			while (*s && *s != ' ' && *s != '\t' && *s != '\r' &&
			       *s != '\n')
				s++;
			if (*s)
				*s++ = '\0';
			continue;
		}
		tok[n++] = w = ++s;
		while (*s && *s != '"') {
			char c = *s++;

			if (c == '\\' && *s) {
				c = *s++;
				if (c == 'n')
					c = '\n';
				else if (c == 'r')
					c = '\r';
				else if (c == 't')
					c = '\t';
				else if (c == 'x' && s[0] && s[1]) {
					char hex[3] = {s[0], s[1], 0};

					c = (char)strtol(hex, NULL, 16);
					s += 2;
				}
			}
			*w++ = c;
		}
		if (*s != '"')
			return -1;
		s++;
		*w = '\0';
	}
}

/* pattern:N (byte i is ' ' + i % 95), text:STRING, file:NAME. */
static int parse_data(struct replay *r, struct svc *sv, const char *spec)
{
	if (!strncmp(spec, "pattern:", 8)) {
		uint64_t n;

		if (parse_num(spec + 8, 1u << 30, &n) < 0 ||
		    (sv->data = malloc(n ? n : 1)) == NULL)
			return conf_err(r, "bad data %s", spec);
		for (uint64_t i = 0; i < n; i++)
			sv->data[i] = (uint8_t)(' ' + i % 95);
		sv->dlen = n;
	} else if (!strncmp(spec, "text:", 5)) {
		sv->dlen = strlen(spec + 5);
		sv->data = (uint8_t *)strdup(spec + 5);
	} else if (!strncmp(spec, "file:", 5)) {
		char path[4096];
		FILE *f;
		long n;

		snprintf(path, sizeof(path), "%s/%s", r->dir, spec + 5);
		if ((f = fopen(path, "rb")) == NULL)
			return conf_err(r, "%s: %s", path, strerror(errno));
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		sv->data = malloc(n > 0 ? (size_t)n : 1);
		sv->dlen = sv->data && n > 0 ? fread(sv->data, 1, (size_t)n, f) : 0;
		fclose(f);
	} else {
		return conf_err(r, "data: expected pattern:N, text:S or file:F");
	}
	return sv->data ? 0 : conf_err(r, "out of memory");
}

static int set_text(struct replay *r, struct svc *sv, const char *s)
{
	free(sv->data);
	sv->dlen = strlen(s);
	sv->data = (uint8_t *)strdup(s);
	return sv->data ? 0 : conf_err(r, "out of memory");
}

static const struct {
	const char *name;
	enum svc_kind kind;
	int nargs;                   /* positional arguments after the name */
} svc_names[] = {
	{"udp-echo", SVC_UDP_ECHO, 1}, {"udp-discard", SVC_UDP_DISCARD, 1},
	{"tcp-echo", SVC_TCP_ECHO, 1}, {"tcp-discard", SVC_TCP_DISCARD, 1},
	{"tcp-daytime", SVC_TCP_DAYTIME, 1}, {"tcp-chargen", SVC_TCP_CHARGEN, 1},
	{"tcp-hold", SVC_TCP_HOLD, 1}, {"nc-connect", SVC_NC_CONNECT, 2},
	{"nc-listen", SVC_NC_LISTEN, 1},
};

static struct svc *svc_new(struct replay *r, enum svc_kind kind, uint16_t port)
{
	struct svc *sv;

	if (r->nsvc == MAX_SVC)
		return NULL;
	sv = &r->svc[r->nsvc++];
	memset(sv, 0, sizeof(*sv));
	sv->kind = kind;
	sv->port = port;
	sv->sd = -1;
	return sv;
}

static int svc_options(struct replay *r, struct svc *sv, char **tok, int nt)
{
	for (int i = 0; i < nt; i++) {
		const char *k = tok[i], *v = i + 1 < nt ? tok[i + 1] : NULL;
		int bad = 0;

		if (!strcmp(k, "no-stdin")) {
			sv->no_stdin = 1;
			continue;
		}
		if (!v)
			return conf_err(r, "%s: value missing", k);
		i++;
		if (!strcmp(k, "at"))
			bad = parse_time(v, &sv->at);
		else if (!strcmp(k, "read-at"))
			bad = parse_time(v, &sv->read_at);
		else if (!strcmp(k, "close-at"))
			bad = parse_time(v, &sv->close_at);
		else if (!strcmp(k, "wait"))
			bad = parse_dur(v, &sv->wait);
		else if (!strcmp(k, "data"))
			bad = parse_data(r, sv, v);
		else if (!strcmp(k, "text"))
			bad = set_text(r, sv, v);
		else
			return conf_err(r, "unknown option '%s'", k);
		if (bad)
			return r->err[0] ? -1 : conf_err(r, "%s: bad value '%s'", k, v);
	}
	return 0;
}

static int conf_service(struct replay *r, char **tok, int nt)
{
	uint64_t port;
	struct svc *sv;
	size_t i;

	if (!strcmp(tok[0], "inetd")) {
		/* ustack-inetd's sockets, in its order (apps/inetd.c). */
		static const enum svc_kind k[] = {SVC_UDP_ECHO, SVC_UDP_DISCARD,
			SVC_TCP_ECHO, SVC_TCP_DISCARD, SVC_TCP_DAYTIME,
			SVC_TCP_CHARGEN};
		static const uint16_t p[] = {7, 9, 7, 9, 13, 19};

		for (i = 0; i < 6; i++)
			if ((sv = svc_new(r, k[i], p[i])) == NULL)
				return conf_err(r, "too many services");
		if (nt == 3 && !strcmp(tok[1], "daytime"))
			return set_text(r, &r->svc[r->nsvc - 2], tok[2]);
		return nt == 1 ? 0 : conf_err(r, "inetd [daytime TEXT]");
	}
	for (i = 0; i < sizeof(svc_names) / sizeof(svc_names[0]); i++)
		if (!strcmp(tok[0], svc_names[i].name))
			break;
	if (i == sizeof(svc_names) / sizeof(svc_names[0]))
		return conf_err(r, "unknown keyword '%s'", tok[0]);
	if (nt < 1 + svc_names[i].nargs)
		return conf_err(r, "%s: arguments missing", tok[0]);
	if (parse_num(tok[svc_names[i].nargs], 65535, &port) < 0 || !port)
		return conf_err(r, "%s: bad port", tok[0]);
	if ((sv = svc_new(r, svc_names[i].kind, (uint16_t)port)) == NULL)
		return conf_err(r, "too many services");
	if (sv->kind == SVC_NC_CONNECT && ustack_parse_ip4(tok[1], &sv->ip) < 0)
		return conf_err(r, "nc-connect: bad address '%s'", tok[1]);
	return svc_options(r, sv, tok + 1 + svc_names[i].nargs,
			   nt - 1 - svc_names[i].nargs);
}

/* `set NAME VALUE`: the numeric fields of struct ustack_config by name. */
#define CF(f) {#f, offsetof(struct ustack_config, f), \
		sizeof(((struct ustack_config *)0)->f)}
static const struct {
	const char *name;
	size_t off, size;
} cfg_fields[] = {
	CF(max_sockets), CF(pkb_max_bytes), CF(arp_cache_size),
	CF(arp_pending_max), CF(reasm_max_bytes), CF(reasm_max_datagrams),
	CF(reasm_max_size), CF(udp_rcvbuf), CF(udp_sndbuf),
	CF(arp_reachable_us), CF(arp_stale_us), CF(arp_retry_us),
	CF(arp_retries), CF(arp_failed_us), CF(reasm_timeout_us),
	CF(icmp_rate_per_sec), CF(icmp_rate_burst), CF(tcp_max_conns),
	CF(tcp_syn_backlog), CF(tcp_sndbuf), CF(tcp_rcvbuf),
	CF(tcp_ooo_max_bytes), CF(tcp_msl_us), CF(tcp_rto_initial_us),
	CF(tcp_rto_min_us), CF(tcp_rto_max_us), CF(tcp_syn_retries),
	CF(tcp_synack_retries), CF(tcp_retries2), CF(tcp_delack_us),
	CF(tcp_fin_wait2_us), CF(tcp_keepidle_us), CF(tcp_keepintvl_us),
	CF(tcp_keepcnt), CF(tcp_challenge_ack_limit), CF(tcp_sack),
	CF(tcp_timestamps), CF(tcp_wscale), CF(tcp_syncookies),
};

static int conf_set(struct replay *r, const char *name, const char *val)
{
	uint64_t v;

	for (size_t i = 0; i < sizeof(cfg_fields) / sizeof(cfg_fields[0]); i++) {
		uint8_t *p = (uint8_t *)&r->cfg + cfg_fields[i].off;

		if (strcmp(name, cfg_fields[i].name))
			continue;
		if (parse_num(val, cfg_fields[i].size == 8 ? UINT64_MAX :
			      UINT32_MAX, &v) < 0)
			return conf_err(r, "set %s: bad number '%s'", name, val);
		if (cfg_fields[i].size == 8) {
			memcpy(p, &v, 8);
		} else {
			uint32_t v32 = (uint32_t)v;

			memcpy(p, &v32, 4);
		}
		return 0;
	}
	return conf_err(r, "set: no config field '%s'", name);
}

static int conf_line(struct replay *r, char **tok, int nt)
{
	const char *k = tok[0], *v = nt > 1 ? tok[1] : "";
	struct tspec t;
	uint64_t n;

	if (!strcmp(k, "addr"))
		return ustack_parse_cidr(v, &r->cfg.addr, &r->cfg.prefix_len) < 0 ?
		       conf_err(r, "addr: expected A.B.C.D/N") : 0;
	if (!strcmp(k, "mac"))
		return ustack_parse_mac(v, r->cfg.mac) < 0 ?
		       conf_err(r, "mac: expected xx:xx:xx:xx:xx:xx") : 0;
	if (!strcmp(k, "gateway"))
		return ustack_parse_ip4(v, &r->cfg.gateway) < 0 ?
		       conf_err(r, "gateway: expected A.B.C.D") : 0;
	if (!strcmp(k, "mtu")) {
		if (parse_num(v, 65535, &n) < 0 || n < 68)
			return conf_err(r, "mtu: expected 68..65535");
		r->cfg.mtu = (uint16_t)n;
		return 0;
	}
	if (!strcmp(k, "seed"))
		return parse_num(v, UINT64_MAX, &r->cfg.seed) < 0 ?
		       conf_err(r, "seed: expected a number") : 0;
	if (!strcmp(k, "set"))
		return nt == 3 ? conf_set(r, tok[1], tok[2]) :
		       conf_err(r, "set NAME VALUE");
	if (!strcmp(k, "start") || !strcmp(k, "input-at")) {
		if (parse_time(v, &t) < 0 || t.rel)
			return conf_err(r, "%s: expected a time", k);
		if (k[0] == 's')
			r->start = t.v;
		else
			r->input_at = t.v, r->input_at_set = 1;
		return 0;
	}
	if (!strcmp(k, "end"))
		return parse_time(v, &r->end) < 0 ?
		       conf_err(r, "end: expected T or +DUR") : 0;
	if (!strcmp(k, "tolerance"))
		return parse_dur(v, &r->tol) < 0 ?
		       conf_err(r, "tolerance: expected a duration") : 0;
	return conf_service(r, tok, nt);
}

static void conf_defaults(struct replay *r)
{
	static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

	ustack_config_default(&r->cfg);
	memcpy(r->cfg.mac, mac, 6);
	r->cfg.seed_from_os = 0;
	r->cfg.seed = 1;
	r->cfg.log_level = getenv("USTACK_REPLAY_LOG") ?
			   atoi(getenv("USTACK_REPLAY_LOG")) : USTACK_LOG_ERROR;
	r->start = USTACK_SEC(1);
	r->tol = USTACK_MS(1);
	r->end = (struct tspec){USTACK_SEC(1), 1, 1};
}

static int conf_load(struct replay *r, const char *path)
{
	char line[4096], *tok[MAX_TOK];
	int lineno = 0, nt, err = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "ustack-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		lineno++;
		r->err[0] = '\0';
		if ((nt = tokenize(line, tok, MAX_TOK)) < 0)
			err = conf_err(r, "bad quoting or too many words");
		else if (nt > 0)
			err = conf_line(r, tok, nt);
		if (err)
			fprintf(stderr, "ustack-replay: %s:%d: %s\n", path, lineno,
				r->err);
	}
	fclose(f);
	return err;
}

/* Times relative to the start become absolute. */
static ustack_time_t tresolve(const struct tspec *t, ustack_time_t base,
			      ustack_time_t dflt)
{
	if (!t->set)
		return dflt;
	return t->rel ? base + t->v : t->v;
}

/* ---- services: the apps' socket calls, in the apps' order ------------- */

static const char default_daytime[] = "Thursday, January 01, 1970 00:00:00-UTC\r\n";

static int sock_open(struct replay *r, int type, uint16_t port, int backlog)
{
	struct sockaddr_in sin;
	int one = 1, sd, e;

	sd = ustack_socket(r->st, AF_INET, type | SOCK_NONBLOCK, 0);
	if (sd < 0)
		return sd;
	ustack_setsockopt(r->st, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	e = ustack_bind(r->st, sd, (struct sockaddr *)&sin, sizeof(sin));
	if (e == 0 && type == SOCK_STREAM)
		e = ustack_listen(r->st, sd, backlog);
	if (e < 0) {
		ustack_close(r->st, sd);
		return e;
	}
	return sd;
}

static int svc_open_all(struct replay *r)
{
	for (int i = 0; i < r->nsvc; i++) {
		struct svc *s = &r->svc[i];
		int udp = s->kind == SVC_UDP_ECHO || s->kind == SVC_UDP_DISCARD;

		if (s->kind == SVC_NC_CONNECT)
			s->sd = ustack_socket(r->st, AF_INET,
					      SOCK_STREAM | SOCK_NONBLOCK, 0);
		else
			s->sd = sock_open(r, udp ? SOCK_DGRAM : SOCK_STREAM,
					  s->port, s->kind == SVC_NC_LISTEN ? 1 : 511);
		if (s->sd < 0) {
			fprintf(stderr, "ustack-replay: service %d (port %u): %s\n",
				i + 1, s->port, ustack_strerror(s->sd));
			return -1;
		}
		if (s->kind == SVC_TCP_DAYTIME && !s->data &&
		    set_text(r, s, default_daytime) < 0)
			return -1;
	}
	return 0;
}

static void conn_close(struct replay *r, struct conn *c)
{
	ustack_close(r->st, c->sd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->sd = -1;
}

/* ustack-inetd's flush_buf: 1 all sent, 0 would block, -1 error. */
static int flush_buf(struct replay *r, struct conn *c)
{
	while (c->off < c->len) {
		ssize_t n = ustack_send(r->st, c->sd, c->buf + c->off,
					c->len - c->off, MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		c->off += (uint32_t)n;
	}
	c->off = c->len = 0;
	return 1;
}

/* ustack-inetd's do_echo. */
static int do_echo(struct replay *r, struct conn *c)
{
	for (int round = 0; round < INETD_ROUNDS; round++) {
		int progress = 0;
		ssize_t n;

		if (flush_buf(r, c) < 0)
			return -1;
		if (c->off > 0 && c->len == ECHO_BUF) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (!c->rd_eof && c->len < ECHO_BUF) {
			n = ustack_recv(r->st, c->sd, c->buf + c->len,
					ECHO_BUF - c->len, MSG_DONTWAIT);
			if (n == 0)
				c->rd_eof = 1;
			else if (n > 0)
				c->len += (uint32_t)n, progress = 1;
			else if (n != -EAGAIN)
				return -1;
		}
		if (c->rd_eof && c->len == c->off)
			return -1;
		if (!progress)
			break;
	}
	return 0;
}

/* ustack-inetd's do_discard (65536-byte reads). */
static int do_discard(struct replay *r, struct conn *c)
{
	for (int round = 0; round < INETD_ROUNDS; round++) {
		ssize_t n = ustack_recv(r->st, c->sd, r->scratch, 65536,
					MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
	}
	return 0;
}

static int do_chargen(struct replay *r, struct conn *c)
{
	const uint32_t total = sizeof(r->chargen);

	for (int round = 0; round < INETD_ROUNDS; round++) {
		ssize_t n = ustack_send(r->st, c->sd, r->chargen + c->pos,
					total - c->pos, MSG_DONTWAIT);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return -1;
		c->pos = (c->pos + (uint32_t)n) % total;
	}
	return do_discard(r, c);
}

static int hold_reading(const struct replay *r, const struct svc *s)
{
	return s->read_at.set && ustack_now(r->st) >= s->read_at.v;
}

static int conn_io(struct replay *r, struct conn *c)
{
	switch (c->svc->kind) {
	case SVC_TCP_ECHO:
		return do_echo(r, c);
	case SVC_TCP_DISCARD:
		return do_discard(r, c);
	case SVC_TCP_CHARGEN:
		return do_chargen(r, c);
	case SVC_TCP_DAYTIME:
		return flush_buf(r, c) == 0 ? 0 : -1;
	case SVC_TCP_HOLD:
		return hold_reading(r, c->svc) ? do_discard(r, c) : 0;
	default:
		return -1;
	}
}

static short conn_events(const struct replay *r, const struct conn *c)
{
	switch (c->svc->kind) {
	case SVC_TCP_ECHO:
		return (short)((c->len > c->off ? POLLOUT : 0) |
			       (!c->rd_eof && c->len < ECHO_BUF ? POLLIN : 0));
	case SVC_TCP_DISCARD:
		return POLLIN;
	case SVC_TCP_CHARGEN:
		return POLLIN | POLLOUT;
	case SVC_TCP_HOLD:
		return hold_reading(r, c->svc) ? POLLIN : 0;
	default:
		return POLLOUT;
	}
}

/* ustack-inetd's do_accept + conn_start. */
static void do_accept(struct replay *r, struct svc *s)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		struct conn *c = NULL;
		int sd = ustack_accept(r->st, s->sd, (struct sockaddr *)&sin, &slen);

		if (sd < 0)
			return;
		ustack_set_nonblock(r->st, sd, 1);
		for (int i = 0; i < MAX_CONNS && !c; i++)
			if (r->conns[i].sd < 0)
				c = &r->conns[i];
		if (!c) {
			ustack_close(r->st, sd);
			continue;
		}
		c->sd = sd;
		c->svc = s;
		if (s->kind == SVC_TCP_ECHO)
			c->buf = malloc(ECHO_BUF);
		else if (s->kind == SVC_TCP_DAYTIME && (c->buf = malloc(s->dlen + 1)))
			memcpy(c->buf, s->data, s->dlen), c->len = (uint32_t)s->dlen;
		if ((s->kind == SVC_TCP_ECHO || s->kind == SVC_TCP_DAYTIME) &&
		    !c->buf)
			conn_close(r, c);
		else if (conn_io(r, c) < 0)
			conn_close(r, c);
	}
}

/* ustack-inetd's do_udp. */
static void do_udp(struct replay *r, struct svc *s)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		ssize_t n = ustack_recvfrom(r->st, s->sd, r->scratch, 65536,
					    MSG_DONTWAIT, (struct sockaddr *)&sin,
					    &slen);

		if (n < 0)
			return;
		if (s->kind == SVC_UDP_ECHO)
			ustack_sendto(r->st, s->sd, r->scratch, (size_t)n,
				      MSG_DONTWAIT, (struct sockaddr *)&sin, slen);
	}
}

/* One ustack-inetd loop turn over the server services: 1 if anything
 * was ready. */
static int inetd_pass(struct replay *r)
{
	struct ustack_pollfd pfd[MAX_SVC + MAX_CONNS];
	int map[MAX_SVC + MAX_CONNS];
	unsigned n = 0;

	for (int i = 0; i < r->nsvc; i++) {
		struct svc *s = &r->svc[i];

		if (s->kind >= SVC_NC_CONNECT || s->sd < 0)
			continue;
		pfd[n] = (struct ustack_pollfd){.sd = s->sd, .events = POLLIN};
		map[n++] = -1 - i;
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &r->conns[i];

		if (c->sd < 0 || !conn_events(r, c))
			continue;
		pfd[n] = (struct ustack_pollfd){.sd = c->sd,
						.events = conn_events(r, c)};
		map[n++] = i;
	}
	if (!n || ustack_poll(r->st, pfd, n, 0) <= 0)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		struct svc *s;

		if (!pfd[k].revents)
			continue;
		if (map[k] >= 0) {
			struct conn *c = &r->conns[map[k]];

			if (c->sd >= 0 && conn_io(r, c) < 0)
				conn_close(r, c);
			continue;
		}
		s = &r->svc[-1 - map[k]];
		if (s->kind == SVC_UDP_ECHO || s->kind == SVC_UDP_DISCARD)
			do_udp(r, s);
		else
			do_accept(r, s);
	}
	return 1;
}

/* tcp-hold close-at: close that service's connections once. */
static void hold_close(struct replay *r, struct svc *s)
{
	if (!s->close_at.set || ustack_now(r->st) < s->close_at.v)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (r->conns[i].sd >= 0 && r->conns[i].svc == s)
			conn_close(r, &r->conns[i]);
	s->close_at.set = 0;
}

/* ---- ustack-nc, call for call (apps/nc.c) ------------------------------ */

/* app_linger's test: no TCP connection left outside LISTEN/TIME_WAIT. */
static int tcp_settled(struct ustack *st)
{
	struct ustack_conn_info v[64];
	int n = ustack_conn_list(st, v, 64);

	if (n > 64)
		return 0;
	for (int i = 0; i < n; i++)
		if (v[i].proto == IPPROTO_TCP && v[i].state != USTACK_TCP_LISTEN &&
		    v[i].state != USTACK_TCP_TIME_WAIT &&
		    v[i].state != USTACK_TCP_CLOSED)
			return 0;
	return 1;
}

/* The program is gone: the stack is destroyed now, nothing more runs. */
static void nc_exit(struct replay *r, struct svc *s)
{
	s->nc = NC_DONE;
	r->exited = 1;
}

static void nc_start_copy(struct svc *s)
{
	s->nc = NC_COPY;
	s->pump_now = 1;
	s->in_eof = s->no_stdin;
}

/* pump(): stdin -> to_net -> socket -> stdout. >0 progress, <0 error. */
static int nc_pump(struct replay *r, struct svc *s)
{
	int progress = 0;
	ssize_t n;

	if (s->off == s->len)                        /* compact() */
		s->off = s->len = 0;
	else if (s->off > NC_BUF / 2)
		s->len -= s->off, s->off = 0;
	if (!s->in_eof && !s->net_eof && s->len < NC_BUF) {
		size_t take = s->dlen - s->rd;

		if (take > NC_BUF - s->len)
			take = NC_BUF - s->len;
		if (!take)
			s->in_eof = 1;
		s->rd += take;
		s->len += take;
		progress = 1;
	}
	while (s->off < s->len) {
		n = ustack_send(r->st, s->sd, s->data + s->rd - (s->len - s->off),
				s->len - s->off, MSG_DONTWAIT);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		s->off += (size_t)n;
		progress = 1;
	}
	if (s->off == s->len && s->in_eof && !s->shut_sent && !s->no_stdin) {
		ustack_shutdown(r->st, s->sd, SHUT_WR);
		s->shut_sent = progress = 1;
	}
	if (!s->net_eof) {
		n = ustack_recvfrom(r->st, s->sd, r->scratch, NC_BUF, MSG_DONTWAIT,
				    NULL, NULL);
		if (n == 0)
			s->net_eof = 1;
		if (n >= 0)
			progress = 1;
		else if (n != -EAGAIN)
			return (int)n;
	}
	return progress;
}

static int nc_copy(struct replay *r, struct svc *s)
{
	int p;

	if (!s->pump_now && (s->in_eof || s->net_eof || s->len == NC_BUF)) {
		/* stdin (a file, always readable) is not polled: the socket */
		struct ustack_pollfd pfd = {.sd = s->sd, .events = (short)(
			(s->net_eof ? 0 : POLLIN) | (s->off < s->len ? POLLOUT : 0))};

		if (ustack_poll(r->st, &pfd, 1, 0) <= 0)
			return 0;
	}
	s->pump_now = 0;
	while ((p = nc_pump(r, s)) > 0)
		;
	if (p < 0) {
		nc_exit(r, s);
		return 0;
	}
	if (s->net_eof && s->off == s->len) {         /* finished() */
		ustack_close(r->st, s->sd);
		s->nc = NC_LINGER;
		s->deadline = ustack_now(r->st) + NC_LINGER_US;
		if (tcp_settled(r->st))
			nc_exit(r, s);
	}
	return 1;
}

static int nc_step(struct replay *r, struct svc *s)
{
	ustack_time_t now = ustack_now(r->st);
	struct ustack_pollfd pfd = {.sd = s->sd};
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int e = 0, sd;

	switch (s->nc) {
	case NC_IDLE:
		if (s->kind == SVC_NC_LISTEN) {
			pfd.events = POLLIN;
			if (ustack_poll(r->st, &pfd, 1, 0) <= 0)
				return 0;
			sd = ustack_accept(r->st, s->sd, (struct sockaddr *)&sin, &slen);
			if (sd == -EAGAIN)
				return 1;
			if (sd < 0)
				return nc_exit(r, s), 0;
			ustack_close(r->st, s->sd);
			s->sd = sd;
			ustack_set_nonblock(r->st, sd, 1);
			nc_start_copy(s);
			return 1;
		}
		if (now < s->at.v)
			return 0;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(s->ip);
		sin.sin_port = htons(s->port);
		e = ustack_connect(r->st, s->sd, (struct sockaddr *)&sin, sizeof(sin));
		if (e == -EINPROGRESS) {
			s->nc = NC_CONNECTING;
			s->deadline = s->wait ? now + s->wait : USTACK_TIME_NEVER;
		} else if (e == 0) {
			nc_start_copy(s);
		} else {
			nc_exit(r, s);
		}
		return 1;
	case NC_CONNECTING:
		pfd.events = POLLOUT;
		if (ustack_poll(r->st, &pfd, 1, 0) > 0) {
			slen = sizeof(e);
			ustack_getsockopt(r->st, s->sd, SOL_SOCKET, SO_ERROR, &e, &slen);
			if (e)
				nc_exit(r, s);
			else
				nc_start_copy(s);
			return 1;
		}
		if (now >= s->deadline)
			nc_exit(r, s);
		return 0;
	case NC_COPY:
		return nc_copy(r, s);
	case NC_LINGER:
		if (tcp_settled(r->st) || now >= s->deadline)
			nc_exit(r, s);
		return 0;
	default:
		return 0;
	}
}

/* After every input and timer event: let the programs run until idle. */
static void svc_pass(struct replay *r)
{
	for (int round = 0; round < PASS_ROUNDS && !r->exited; round++) {
		int busy = 0;

		for (int i = 0; i < r->nsvc; i++)
			if (r->svc[i].kind == SVC_TCP_HOLD)
				hold_close(r, &r->svc[i]);
		busy |= inetd_pass(r);
		for (int i = 0; i < r->nsvc && !r->exited; i++)
			if (r->svc[i].kind >= SVC_NC_CONNECT)
				busy |= nc_step(r, &r->svc[i]);
		if (!busy)
			break;
	}
}

/* The next time a program acts on its own (not on a frame or a timer). */
static ustack_time_t next_action(const struct replay *r, ustack_time_t now)
{
	ustack_time_t t = USTACK_TIME_NEVER;

	for (int i = 0; i < r->nsvc; i++) {
		const struct svc *s = &r->svc[i];
		ustack_time_t c[3] = {USTACK_TIME_NEVER, USTACK_TIME_NEVER,
				      USTACK_TIME_NEVER};

		if (s->kind == SVC_NC_CONNECT && s->nc == NC_IDLE)
			c[0] = s->at.v;
		if (s->nc == NC_CONNECTING || s->nc == NC_LINGER)
			c[0] = s->deadline;
		if (s->kind == SVC_TCP_HOLD) {
			if (s->read_at.set)
				c[1] = s->read_at.v;
			if (s->close_at.set)
				c[2] = s->close_at.v;
		}
		for (int k = 0; k < 3; k++)
			if (c[k] > now && c[k] < t)
				t = c[k];
	}
	return t;
}

/* ---- decoding frames layer by layer -------------------------------------- */

#define MAX_FLD 96

struct fld {
	const char *name;            /* "tcp.seq" */
	char val[80];                /* compared */
	char note[24];               /* shown only (relative seq/ack) */
	uint32_t off, len;           /* the frame bytes it covers */
};

struct dec {
	struct fld f[MAX_FLD];
	int n;
	char sum[320];               /* one tcpdump-like line */
};

/* The first SYN of each direction: seq/ack shown relative to it. */
struct relctx {
	struct {
		uint8_t key[12];     /* src ip, dst ip, sport, dport */
		uint32_t isn;
	} e[128];
	int n;
};

__attribute__((format(printf, 5, 6)))
static void fld(struct dec *d, const char *name, uint32_t off, uint32_t len,
		const char *fmt, ...)
{
	struct fld *f;
	va_list ap;

	if (d->n == MAX_FLD)
		return;
	f = &d->f[d->n++];
	f->name = name;
	f->off = off;
	f->len = len;
	f->note[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(f->val, sizeof(f->val), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void sum(struct dec *d, const char *fmt, ...)
{
	size_t l = strlen(d->sum);
	va_list ap;

	if (l + 1 >= sizeof(d->sum))
		return;
	va_start(ap, fmt);
	vsnprintf(d->sum + l, sizeof(d->sum) - l, fmt, ap);
	va_end(ap);
}

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static char *fmt_mac(const uint8_t *m, char *b)
{
	snprintf(b, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	return b;
}

static char *fmt_ip(const uint8_t *p, char *b)
{
	snprintf(b, 16, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
	return b;
}

/* The IPv4 header and TCP header of a frame if it is an unfragmented
 * (or first-fragment) TCP segment, else NULL. */
static const uint8_t *tcp_of(const uint8_t *f, uint32_t len, const uint8_t **ip)
{
	uint32_t ihl;

	if (len < 14 + 20 || ld16(f + 12) != 0x0800 || f[14] >> 4 != 4)
		return NULL;
	ihl = (uint32_t)(f[14] & 15) * 4;
	if (ihl < 20 || len < 14 + ihl + 20 || f[23] != 6 ||
	    (ld16(f + 20) & 0x1fff))
		return NULL;
	*ip = f + 14;
	return f + 14 + ihl;
}

static void rel_key(const uint8_t *ip, const uint8_t *t, int reverse,
		    uint8_t key[12])
{
	memcpy(key, ip + (reverse ? 16 : 12), 4);
	memcpy(key + 4, ip + (reverse ? 12 : 16), 4);
	memcpy(key + 8, t + (reverse ? 2 : 0), 2);
	memcpy(key + 10, t + (reverse ? 0 : 2), 2);
}

static int rel_get(const struct relctx *c, const uint8_t key[12], uint32_t *isn)
{
	for (int i = 0; i < c->n; i++)
		if (!memcmp(c->e[i].key, key, 12))
			return *isn = c->e[i].isn, 1;
	return 0;
}

static void rel_learn(struct relctx *c, const struct frames *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const uint8_t *ip, *t = tcp_of(fs->v[i].data, fs->v[i].len, &ip);
		uint32_t isn;

		if (!t || !(t[13] & 0x02) || c->n == 128)
			continue;
		rel_key(ip, t, 0, c->e[c->n].key);
		if (!rel_get(c, c->e[c->n].key, &isn))
			c->e[c->n++].isn = ld32(t + 4);
	}
}

static void dec_tcp_opts(struct dec *d, const uint8_t *f, uint32_t o,
			 uint32_t end)
{
	sum(d, ", options [");
	while (o < end) {
		uint8_t kind = f[o], l = o + 1 < end ? f[o + 1] : 0;
		const uint8_t *v = f + o + 2;

		if (kind == 0 || kind == 1) {
			fld(d, "tcp.opt", o, 1, kind ? "nop" : "eol");
			sum(d, "%s%s", kind ? "nop" : "eol", o + 1 < end ? "," : "");
			o++;
			if (!kind)
				break;
			continue;
		}
		if (l < 2 || o + l > end) {
			fld(d, "tcp.opt", o, end - o, "bad option %u len %u", kind, l);
			sum(d, "bad");
			break;
		}
		if (kind == 2 && l == 4)
			fld(d, "tcp.opt", o, l, "mss %u", ld16(v));
		else if (kind == 3 && l == 3)
			fld(d, "tcp.opt", o, l, "wscale %u", v[0]);
		else if (kind == 4 && l == 2)
			fld(d, "tcp.opt", o, l, "sackOK");
		else if (kind == 8 && l == 10)
			fld(d, "tcp.opt", o, l, "TS val %u ecr %u", ld32(v),
			    ld32(v + 4));
		else if (kind == 5 && l >= 10 && (l - 2) % 8 == 0)
			fld(d, "tcp.opt", o, l, "sack %u block%s, first %u:%u",
			    (l - 2) / 8, l > 10 ? "s" : "", ld32(v), ld32(v + 4));
		else
			fld(d, "tcp.opt", o, l, "option %u len %u", kind, l);
		sum(d, "%s%s", d->f[d->n - 1].val, o + l < end ? "," : "");
		o += l;
	}
	sum(d, "]");
}

static void dec_tcp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		    const struct relctx *rc, const char *dst)
{
	static const char fl[] = "FSRPAUEC";
	const uint8_t *t = f + o, *ip = f + 14;
	uint32_t doff, isn;
	uint8_t key[12];
	char fs[12];
	int k = 0, si;

	if (end - o < 20) {
		fld(d, "tcp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	for (int b = 0; b < 8; b++)
		if (t[13] & (1u << b) && b != 4)
			fs[k++] = fl[b];
	if (t[13] & 0x10)
		fs[k++] = '.';
	fs[k] = '\0';
	doff = (uint32_t)(t[12] >> 4) * 4;
	fld(d, "tcp.sport", o, 2, "%u", ld16(t));
	fld(d, "tcp.dport", o + 2, 2, "%u", ld16(t + 2));
	si = d->n;
	fld(d, "tcp.seq", o + 4, 4, "%u", ld32(t + 4));
	rel_key(ip, t, 0, key);
	if (rel_get(rc, key, &isn))
		snprintf(d->f[d->n - 1].note, 24, "rel %u", ld32(t + 4) - isn);
	fld(d, "tcp.ack", o + 8, 4, "%u", ld32(t + 8));
	rel_key(ip, t, 1, key);
	if ((t[13] & 0x10) && rel_get(rc, key, &isn))
		snprintf(d->f[d->n - 1].note, 24, "rel %u", ld32(t + 8) - isn);
	fld(d, "tcp.doff", o + 12, 1, "%u", doff);
	fld(d, "tcp.flags", o + 13, 1, "[%s]", fs);
	fld(d, "tcp.win", o + 14, 2, "%u", ld16(t + 14));
	fld(d, "tcp.csum", o + 16, 2, "0x%04x", ld16(t + 16));
	fld(d, "tcp.urp", o + 18, 2, "%u", ld16(t + 18));
	if (d->n == si + 7) {
		sum(d, ".%u > %s.%u: Flags [%s], seq %s", ld16(t), dst,
		    ld16(t + 2), fs,
		    d->f[si].note[0] ? d->f[si].note + 4 : d->f[si].val);
		if (t[13] & 0x10)
			sum(d, ", ack %s", d->f[si + 1].note[0] ?
			    d->f[si + 1].note + 4 : d->f[si + 1].val);
		sum(d, ", win %u", ld16(t + 14));
	}
	if (doff < 20 || o + doff > end) {
		fld(d, "tcp.bad_doff", o + 12, 1, "%u", doff);
		return;
	}
	if (doff > 20)
		dec_tcp_opts(d, f, o + 20, o + doff);
	if (end > o + doff)
		fld(d, "tcp.payload", o + doff, end - o - doff, "%u bytes",
		    end - o - doff);
	sum(d, ", length %u", end - o - doff);
}

static void dec_udp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		    const char *dst)
{
	const uint8_t *u = f + o;

	if (end - o < 8) {
		fld(d, "udp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	fld(d, "udp.sport", o, 2, "%u", ld16(u));
	fld(d, "udp.dport", o + 2, 2, "%u", ld16(u + 2));
	fld(d, "udp.len", o + 4, 2, "%u", ld16(u + 4));
	fld(d, "udp.csum", o + 6, 2, "0x%04x", ld16(u + 6));
	if (end > o + 8)
		fld(d, "udp.payload", o + 8, end - o - 8, "%u bytes", end - o - 8);
	sum(d, ".%u > %s.%u: UDP, length %u", ld16(u), dst, ld16(u + 2),
	    end - o - 8);
}

static void dec_icmp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t end,
		     const char *dst)
{
	const uint8_t *c = f + o;
	char a[16], b[16];

	if (end - o < 8) {
		fld(d, "icmp", o, end - o, "truncated (%u bytes)", end - o);
		return;
	}
	fld(d, "icmp.type", o, 1, "%u", c[0]);
	fld(d, "icmp.code", o + 1, 1, "%u", c[1]);
	fld(d, "icmp.csum", o + 2, 2, "0x%04x", ld16(c + 2));
	sum(d, " > %s: ICMP ", dst);
	if (c[0] == 0 || c[0] == 8) {
		fld(d, "icmp.id", o + 4, 2, "%u", ld16(c + 4));
		fld(d, "icmp.seq", o + 6, 2, "%u", ld16(c + 6));
		sum(d, "echo %s, id %u, seq %u, length %u",
		    c[0] ? "request" : "reply", ld16(c + 4), ld16(c + 6), end - o);
	} else {
		fld(d, "icmp.rest", o + 4, 4, "0x%08x", ld32(c + 4));
		sum(d, "type %u code %u", c[0], c[1]);
		if (end - o >= 8 + 20 && (c[8] >> 4) == 4) {
			fld(d, "icmp.orig", o + 8, 20, "IP %s > %s proto %u",
			    fmt_ip(c + 20, a), fmt_ip(c + 24, b), c[17]);
			sum(d, " about %s", d->f[d->n - 1].val);
		}
	}
	if (end > o + 8)
		fld(d, "icmp.data", o + 8, end - o - 8, "%u bytes", end - o - 8);
}

static void dec_ip4(struct dec *d, const uint8_t *f, uint32_t o, uint32_t len,
		    const struct relctx *rc)
{
	const uint8_t *h = f + o;
	uint32_t ihl, tot, end, frag;
	char a[16], b[16];

	if (len - o < 20) {
		fld(d, "ip", o, len - o, "truncated (%u bytes)", len - o);
		return;
	}
	ihl = (uint32_t)(h[0] & 15) * 4;
	tot = ld16(h + 2);
	frag = ld16(h + 6);
	fld(d, "ip.version", o, 1, "%u", h[0] >> 4);
	fld(d, "ip.ihl", o, 1, "%u", ihl);
	fld(d, "ip.tos", o + 1, 1, "0x%02x", h[1]);
	fld(d, "ip.len", o + 2, 2, "%u", tot);
	fld(d, "ip.id", o + 4, 2, "%u", ld16(h + 4));
	fld(d, "ip.flags", o + 6, 1, "%s%s%s", frag & 0x4000 ? "DF" : "",
	    frag & 0x2000 ? "MF" : "", frag & 0x6000 ? "" : "none");
	fld(d, "ip.frag", o + 6, 2, "%u", (frag & 0x1fff) * 8);
	fld(d, "ip.ttl", o + 8, 1, "%u", h[8]);
	fld(d, "ip.proto", o + 9, 1, "%u", h[9]);
	fld(d, "ip.csum", o + 10, 2, "0x%04x", ld16(h + 10));
	fld(d, "ip.src", o + 12, 4, "%s", fmt_ip(h + 12, a));
	fld(d, "ip.dst", o + 16, 4, "%s", fmt_ip(h + 16, b));
	sum(d, "IP %s", a);
	if (ihl < 20 || o + ihl > len)
		return;
	if (ihl > 20)
		fld(d, "ip.options", o + 20, ihl - 20, "%u bytes", ihl - 20);
	end = tot >= ihl && o + tot <= len ? o + tot : len;
	if (frag & 0x1fff) {
		fld(d, "ip.payload", o + ihl, end - o - ihl, "%u bytes",
		    end - o - ihl);
		sum(d, " > %s: fragment id %u, offset %u, length %u", b,
		    ld16(h + 4), (frag & 0x1fff) * 8, end - o - ihl);
	} else if (h[9] == 1) {
		dec_icmp(d, f, o + ihl, end, b);
	} else if (h[9] == 17) {
		dec_udp(d, f, o + ihl, end, b);
	} else if (h[9] == 6) {
		dec_tcp(d, f, o + ihl, end, rc, b);
	} else {
		fld(d, "ip.payload", o + ihl, end - o - ihl, "%u bytes",
		    end - o - ihl);
		sum(d, " > %s: proto %u, length %u", b, h[9], end - o - ihl);
	}
	if (frag & 0x2000)
		sum(d, " (more fragments, id %u)", ld16(h + 4));
	if (end < len)
		fld(d, "eth.pad", end, len - end, "%u bytes", len - end);
}

static void dec_arp(struct dec *d, const uint8_t *f, uint32_t o, uint32_t len)
{
	const uint8_t *a = f + o;
	char m[18], s[16], t[16];

	if (len - o < 28) {
		fld(d, "arp", o, len - o, "truncated (%u bytes)", len - o);
		return;
	}
	fld(d, "arp.htype", o, 2, "%u", ld16(a));
	fld(d, "arp.ptype", o + 2, 2, "0x%04x", ld16(a + 2));
	fld(d, "arp.hlen", o + 4, 1, "%u", a[4]);
	fld(d, "arp.plen", o + 5, 1, "%u", a[5]);
	fld(d, "arp.op", o + 6, 2, "%u", ld16(a + 6));
	fld(d, "arp.sha", o + 8, 6, "%s", fmt_mac(a + 8, m));
	fld(d, "arp.spa", o + 14, 4, "%s", fmt_ip(a + 14, s));
	fld(d, "arp.tha", o + 18, 6, "%s", fmt_mac(a + 18, m));
	fld(d, "arp.tpa", o + 24, 4, "%s", fmt_ip(a + 24, t));
	if (ld16(a + 6) == 1 && !memcmp(a + 14, a + 24, 4))
		sum(d, "ARP, Announcement for %s", s);
	else if (ld16(a + 6) == 1)
		sum(d, "ARP, Request who-has %s tell %s", t, s);
	else
		sum(d, "ARP, Reply %s is-at %s", s, fmt_mac(a + 8, m));
	if (len > o + 28)
		fld(d, "eth.pad", o + 28, len - o - 28, "%u bytes", len - o - 28);
}

static void decode(struct dec *d, const uint8_t *f, uint32_t len,
		   const struct relctx *rc)
{
	char a[18], b[18];
	uint16_t type;

	d->n = 0;
	d->sum[0] = '\0';
	fld(d, "frame.len", 0, 0, "%u", len);
	if (len < 14) {
		fld(d, "eth", 0, len, "truncated (%u bytes)", len);
		sum(d, "truncated frame");
		return;
	}
	type = ld16(f + 12);
	fld(d, "eth.dst", 0, 6, "%s", fmt_mac(f, a));
	fld(d, "eth.src", 6, 6, "%s", fmt_mac(f + 6, b));
	fld(d, "eth.type", 12, 2, "0x%04x", type);
	if (type == 0x0806) {
		dec_arp(d, f, 14, len);
	} else if (type == 0x0800) {
		dec_ip4(d, f, 14, len, rc);
	} else {
		fld(d, "eth.payload", 14, len - 14, "%u bytes", len - 14);
		sum(d, "%s > %s, ethertype 0x%04x, length %u", b, a, type, len);
	}
}

/* ---- comparing ----------------------------------------------------------- */

static int fld_differs(const struct dec *a, const struct dec *b, int i)
{
	if (i >= a->n || i >= b->n)
		return 1;
	return strcmp(a->f[i].name, b->f[i].name) || strcmp(a->f[i].val, b->f[i].val);
}

static void show_dec(const char *title, const struct dec *d)
{
	printf("  %s: %s\n", title, d->sum);
	for (int i = 0; i < d->n; i++)
		printf("      %-12s %s%s%s%s\n", d->f[i].name, d->f[i].val,
		       d->f[i].note[0] ? "  (" : "", d->f[i].note,
		       d->f[i].note[0] ? ")" : "");
}

/* Both decodes side by side, '!' on the fields that differ. */
static void show_pair(const struct dec *de, const struct dec *dg)
{
	char e[112], g[112];

	printf("  expected: %s\n  got:      %s\n", de->sum, dg->sum);
	printf("      %-12s %-36s %s\n", "field", "expected", "got");
	for (int i = 0; i < de->n || i < dg->n; i++) {
		const struct fld *a = i < de->n ? &de->f[i] : NULL;
		const struct fld *b = i < dg->n ? &dg->f[i] : NULL;

		snprintf(e, sizeof(e), "%s%s%s%s", a ? a->val : "-",
			 a && a->note[0] ? " (" : "", a ? a->note : "",
			 a && a->note[0] ? ")" : "");
		snprintf(g, sizeof(g), "%s%s%s%s", b ? b->val : "-",
			 b && b->note[0] ? " (" : "", b ? b->note : "",
			 b && b->note[0] ? ")" : "");
		printf("    %c %-12s %-36s %s\n", fld_differs(de, dg, i) ? '!' : ' ',
		       a ? a->name : b->name, e, g);
	}
}

static void fmt_t(const struct replay *r, ustack_time_t t, char *b)
{
	ustack_time_t d = t >= r->start ? t - r->start : r->start - t;

	snprintf(b, 32, "%s%llu.%06llu", t >= r->start ? "+" : "-",
		 (unsigned long long)(d / 1000000u),
		 (unsigned long long)(d % 1000000u));
}

/* Name the first field that differs, or the byte if the fields agree. */
static void report_diff(const struct frame *e, const struct frame *g,
			const struct dec *de, const struct dec *dg)
{
	uint32_t i, n = e->len < g->len ? e->len : g->len;
	const struct fld *best = NULL;

	for (int k = 0; k < de->n || k < dg->n; k++) {
		if (!fld_differs(de, dg, k))
			continue;
		if (k >= de->n || k >= dg->n || strcmp(de->f[k].name, dg->f[k].name))
			printf("  layout differs at field %d: expected %s, got %s\n",
			       k, k < de->n ? de->f[k].name : "(end of frame)",
			       k < dg->n ? dg->f[k].name : "(end of frame)");
		else
			printf("  %s differs: expected %s, got %s\n", de->f[k].name,
			       de->f[k].val, dg->f[k].val);
		return;
	}
	for (i = 0; i < n && e->data[i] == g->data[i]; i++)
		;
	for (int k = 0; k < de->n; k++)
		if (de->f[k].len && i >= de->f[k].off &&
		    i < de->f[k].off + de->f[k].len &&
		    (!best || de->f[k].len <= best->len))
			best = &de->f[k];
	if (i < n)
		printf("  %s differs at byte %u of it (frame offset %u): "
		       "expected 0x%02x, got 0x%02x\n", best ? best->name : "frame",
		       best ? i - best->off : i, i, e->data[i], g->data[i]);
}

static void print_timeline(const struct replay *r, const struct relctx *rc)
{
	size_t i = 0, o = 0;
	struct dec *d = malloc(sizeof(*d));
	char t[32];

	if (!d)
		return;
	while (i < r->in.n || o < r->out.n) {
		ustack_time_t ti = i < r->in.n ? r->in.v[i].at : USTACK_TIME_NEVER;
		ustack_time_t to = o < r->out.n ? r->out.v[o].at : USTACK_TIME_NEVER;
		const struct frame *f = ti <= to ? &r->in.v[i] : &r->out.v[o];

		decode(d, f->data, f->len, rc);
		fmt_t(r, f->at, t);
		printf("%12s %s %4zu %s\n", t, ti <= to ? "in " : "out",
		       ti <= to ? i : o, d->sum);
		if (ti <= to)
			i++;
		else
			o++;
	}
	free(d);
}

static int same(const struct frame *a, const struct frame *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static int near(const struct replay *r, const struct frame *a,
		const struct frame *b)
{
	return (a->at > b->at ? a->at - b->at : b->at - a->at) <= r->tol;
}

/* 0: every frame sent matches out.pcap, in order and in time. */
static int compare(struct replay *r, const char *what)
{
	struct relctx *re = calloc(1, sizeof(*re)), *rg = calloc(1, sizeof(*rg));
	struct dec *de = malloc(sizeof(*de)), *dg = malloc(sizeof(*dg));
	size_t n = r->exp.n > r->out.n ? r->exp.n : r->out.n, k;
	int rc = 0;
	char te[32], tg[32];

	if (!re || !rg || !de || !dg) {
		free(re), free(rg), free(de), free(dg);
		return EXIT_ERROR;
	}
	rel_learn(re, &r->in), rel_learn(re, &r->exp);
	rel_learn(rg, &r->in), rel_learn(rg, &r->out);
	if (r->verbose)
		print_timeline(r, rg);
	for (k = 0; k < n && !rc; k++) {
		const struct frame *e = k < r->exp.n ? &r->exp.v[k] : NULL;
		const struct frame *g = k < r->out.n ? &r->out.v[k] : NULL;
		ustack_time_t dt;

		if (e)
			decode(de, e->data, e->len, re), fmt_t(r, e->at, te);
		if (g)
			decode(dg, g->data, g->len, rg), fmt_t(r, g->at, tg);
		if (!g) {
			printf("%s: frame %zu missing: expected at %s, the stack sent "
			       "only %zu frames\n", what, k, te, r->out.n);
			show_dec("expected", de);
			rc = EXIT_MISMATCH;
		} else if (!e) {
			printf("%s: extra frame %zu sent at %s (expected only %zu "
			       "frames)\n", what, k, tg, r->exp.n);
			show_dec("got", dg);
			rc = EXIT_MISMATCH;
		} else if (k + 1 < r->exp.n && same(e + 1, g) &&
			   (!same(e, g) || (near(r, e + 1, g) && !near(r, e, g)))) {
			printf("%s: frame %zu missing: expected at %s (the stack's "
			       "frame %zu is the expected frame %zu)\n", what, k, te,
			       k, k + 1);
			show_dec("expected", de);
			rc = EXIT_MISMATCH;
		} else if (k + 1 < r->out.n && same(e, g + 1) &&
			   (!same(e, g) || (near(r, e, g + 1) && !near(r, e, g)))) {
			printf("%s: extra frame %zu sent at %s (the stack's frame "
			       "%zu is the expected frame %zu)\n", what, k, tg, k + 1, k);
			show_dec("got", dg);
			rc = EXIT_MISMATCH;
		} else if (!same(e, g)) {
			printf("%s: frame %zu differs (expected at %s, sent at %s)\n",
			       what, k, te, tg);
			report_diff(e, g, de, dg);
			show_pair(de, dg);
			rc = EXIT_MISMATCH;
		} else if ((dt = e->at > g->at ? e->at - g->at : g->at - e->at) > r->tol) {
			printf("%s: frame %zu sent at %s, expected at %s: %llu us "
			       "apart, tolerance %llu us\n  %s\n", what, k, tg, te,
			       (unsigned long long)dt, (unsigned long long)r->tol,
			       dg->sum);
			rc = EXIT_MISMATCH;
		}
	}
	if (!rc)
		printf("%s: ok, %zu frames in, %zu frames out match\n", what,
		       r->in.n, r->out.n);
	free(re), free(rg), free(de), free(dg);
	return rc;
}

/* ---- running a case ------------------------------------------------------ */

/* Inbound stamps become virtual times: the first frame at input-at. */
static void place_inputs(struct replay *r)
{
	ustack_time_t first = r->in.n ? r->in.v[0].at : 0, last = r->start;

	if (!r->input_at_set)
		r->input_at = first;
	for (size_t i = 0; i < r->in.n; i++) {
		ustack_time_t at = r->in.v[i].at > first ? r->in.v[i].at - first : 0;

		r->in.v[i].at = r->input_at + at;
		if (r->in.v[i].at > last)
			last = r->in.v[i].at;
	}
	for (int i = 0; i < r->nsvc; i++) {
		struct svc *s = &r->svc[i];

		s->at.v = tresolve(&s->at, r->start, r->start);
		s->read_at.v = tresolve(&s->read_at, r->start, 0);
		s->close_at.v = tresolve(&s->close_at, r->start, 0);
		if (s->kind == SVC_NC_CONNECT && s->at.v > last)
			last = s->at.v;
	}
	r->end_at = tresolve(&r->end, last, last);
}

static int run(struct replay *r)
{
	struct rdev *dev = calloc(1, sizeof(*dev));
	size_t i = 0;
	unsigned steps = 0;
	int rc = 0;

	if (!dev || !(r->scratch = malloc(NC_BUF)))
		return free(dev), EXIT_ERROR;
	dev->base.ops = &rdev_ops;
	dev->base.kind = "replay";
	snprintf(dev->base.name, sizeof(dev->base.name), "replay0");
	dev->base.mtu = r->cfg.mtu;
	memcpy(dev->base.mac, r->cfg.mac, 6);
	dev->out = &r->out;
	for (int k = 0; k < MAX_CONNS; k++)
		r->conns[k].sd = -1;
	for (int k = 0; k < 95; k++)                 /* RFC 864, as inetd */
		for (int j = 0; j < 74; j++)
			r->chargen[k * 74 + j] = j < 72 ? (uint8_t)(' ' + (k + j) % 95) :
						 j == 72 ? '\r' : '\n';
	if ((rc = ustack_create(&r->st, &r->cfg, &dev->base, r->start)) < 0) {
		fprintf(stderr, "ustack-replay: cannot create the stack: %s\n",
			ustack_strerror(rc));
		ustack_dev_close(&dev->base);
		return EXIT_ERROR;
	}
	rc = svc_open_all(r) < 0 ? EXIT_ERROR : 0;
	if (!rc)
		svc_pass(r);
	while (!rc && !r->exited) {
		ustack_time_t now = ustack_now(r->st), t, ta, tt;
		ustack_time_t ti = i < r->in.n ? r->in.v[i].at : USTACK_TIME_NEVER;

		if (ti < now)
			ti = now;
		ta = next_action(r, now);
		tt = ustack_next_deadline(r->st);
		t = ti < ta ? ti : ta;
		t = tt < t ? tt : t;
		if (t == USTACK_TIME_NEVER || t > r->end_at)
			break;
		if (++steps > MAX_STEPS) {
			fprintf(stderr, "ustack-replay: virtual time stuck at %llu us\n",
				(unsigned long long)now);
			rc = EXIT_ERROR;
			break;
		}
		t = t < now ? now : t;
		if (t == ti && i < r->in.n) {
			/* Frames stamped alike were read in one pass of the
			 * runtime (rt_drive: up to 64), before timers and the
			 * program ran: feed them the same way. */
			ustack_time_t stamp = r->in.v[i].at;
			int k = 0;

			do {
				ustack_input(r->st, r->in.v[i].data,
					     r->in.v[i].len, t);
				i++;
			} while (i < r->in.n && r->in.v[i].at == stamp &&
				 ++k < RT_BATCH);
		}
		ustack_run_timers(r->st, t);
		svc_pass(r);
	}
	if (!r->exited)
		ustack_set_now(r->st, r->end_at);
	if (i < r->in.n)
		fprintf(stderr, "ustack-replay: note: %zu inbound frames after the "
			"%s were not fed\n", r->in.n - i,
			r->exited ? "program exited" : "end");
	ustack_destroy(r->st);
	ustack_dev_close(&dev->base);
	for (int k = 0; k < MAX_CONNS; k++)
		free(r->conns[k].buf);
	return rc;
}

static void replay_free(struct replay *r)
{
	for (int i = 0; i < r->nsvc; i++)
		free(r->svc[i].data);
	frames_free(&r->in);
	frames_free(&r->out);
	frames_free(&r->exp);
	free(r->scratch);
}

static int replay_case(struct replay *r, int update, const char *expect)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/case.conf", r->dir);
	if (conf_load(r, path) < 0)
		return EXIT_ERROR;
	if (r->tol_override)
		r->tol = r->tol_override;
	snprintf(path, sizeof(path), "%s/in.pcap", r->dir);
	if (pcap_load(path, &r->in) < 0)
		return EXIT_ERROR;
	place_inputs(r);
	if ((rc = run(r)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", r->dir, expect ? expect : "out.pcap");
	if (expect && expect[0] == '/')
		snprintf(path, sizeof(path), "%s", expect);
	if (update) {
		if (pcap_save(path, &r->out) < 0)
			return EXIT_ERROR;
		printf("%s: wrote %s: %zu frames in, %zu frames out\n", r->dir,
		       path, r->in.n, r->out.n);
		return 0;
	}
	if (pcap_load(path, &r->exp) < 0)
		return EXIT_ERROR;
	return compare(r, r->dir);
}

/* ---- --from: a capture becomes a case ------------------------------------ */

struct from_opts {
	const char *capture, *addr, *mac, *start, *end;
	const char *svc[MAX_SVC];
	int nsvc;
};

/* The MAC that owns addr in the capture (ARP or IPv4 source), if any. */
static int find_mac(const struct frames *fs, uint32_t addr, uint8_t mac[6])
{
	uint8_t a[4] = {addr >> 24, addr >> 16, addr >> 8, addr};

	for (size_t i = 0; i < fs->n; i++) {
		const uint8_t *f = fs->v[i].data;
		uint32_t len = fs->v[i].len;

		if ((len >= 42 && ld16(f + 12) == 0x0806 && !memcmp(f + 28, a, 4)) ||
		    (len >= 34 && ld16(f + 12) == 0x0800 && !memcmp(f + 26, a, 4)))
			return memcpy(mac, f + 6, 6), 0;
	}
	return -1;
}

static int write_text(const char *path, const char *text)
{
	FILE *f;

	if (access(path, F_OK) == 0) {
		printf("%s exists: left as it is\n", path);
		return 0;
	}
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static int from_write_conf(const char *dir, const struct from_opts *o,
			   uint32_t addr, uint8_t pfx, const uint8_t mac[6],
			   ustack_time_t start)
{
	char path[4096], text[8192], ip[16], m[18];
	int n;

	n = snprintf(text, sizeof(text),
		"# Created by ustack-replay --from %s\n"
		"# (format: tests/replay/README.md). Add the services the stack\n"
		"# ran, then: ustack-replay --update %s\n"
		"addr %s/%u\nmac %s\nseed 1\nstart %lluus\nend %s\n"
		"tolerance 1ms\n", o->capture, dir, ustack_fmt_ip4(addr, ip), pfx,
		fmt_mac(mac, m), (unsigned long long)start, o->end ? o->end : "+1s");
	for (int i = 0; i < o->nsvc && n > 0 && (size_t)n < sizeof(text); i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%s\n", o->svc[i]);
	snprintf(path, sizeof(path), "%s/case.conf", dir);
	if (write_text(path, text) < 0)
		return -1;
	snprintf(text, sizeof(text), "Made from the capture %s.\n"
		 "Say here in a few lines what this case pins down.\n", o->capture);
	snprintf(path, sizeof(path), "%s/case.txt", dir);
	return write_text(path, text);
}

static int from_capture(const char *dir, const struct from_opts *o)
{
	struct frames all = {0}, in = {0}, live = {0};
	uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02}, pfx = 24;
	uint32_t addr = 0x0a000002;
	ustack_time_t start = 0;
	struct tspec t;
	char path[4096];
	size_t skipped = 0;
	int rc = EXIT_ERROR;

	if ((o->addr && ustack_parse_cidr(o->addr, &addr, &pfx) < 0) ||
	    (o->mac && ustack_parse_mac(o->mac, mac) < 0) ||
	    (o->start && (parse_time(o->start, &t) < 0 || t.rel))) {
		fprintf(stderr, "ustack-replay: bad --addr, --mac or --start\n");
		return EXIT_ERROR;
	}
	if (pcap_load(o->capture, &all) < 0)
		goto out;
	if (!o->mac && find_mac(&all, addr, mac) < 0)
		fprintf(stderr, "ustack-replay: no frame from %s in the capture: "
			"using MAC 02:00:00:00:00:02\n", o->addr ? o->addr : "10.0.0.2");
	for (size_t i = 0; i < all.n; i++) {
		const struct frame *f = &all.v[i];
		int mine = f->len >= 14 && !memcmp(f->data + 6, mac, 6);
		int to_us = f->len >= 14 && (!memcmp(f->data, mac, 6) ||
					     (f->data[0] & 1));

		if (mine || to_us) {
			if (frames_add(mine ? &live : &in, f->at, f->data, f->len) < 0)
				goto out;
		} else {
			skipped++;
		}
	}
	/* The stack starts when it sent its first frame (the gratuitous ARP
	 * of ustack_create) or a second before the first input. */
	if (o->start)
		start = t.v;
	else if (live.n && (!in.n || live.v[0].at <= in.v[0].at))
		start = live.v[0].at;
	else if (in.n)
		start = in.v[0].at > USTACK_SEC(1) ? in.v[0].at - USTACK_SEC(1) : 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/in.pcap", dir);
	if (pcap_save(path, &in) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/live.pcap", dir);
	if (live.n && pcap_save(path, &live) < 0)
		goto out;
	printf("%s: %zu frames: %zu to the stack (in.pcap), %zu from it "
	       "(live.pcap), %zu neither\n", o->capture, all.n, in.n, live.n,
	       skipped);
	rc = from_write_conf(dir, o, addr, pfx, mac, start) < 0 ? EXIT_ERROR : 0;
out:
	frames_free(&all);
	frames_free(&in);
	frames_free(&live);
	return rc;
}

/* ---- main ------------------------------------------------------------------ */

/* After --from: how the stack's behaviour now compares with the capture. */
static void from_summary(struct replay *r)
{
	struct frames live = {0};
	char path[4096];
	size_t same = 0;

	snprintf(path, sizeof(path), "%s/live.pcap", r->dir);
	if (access(path, F_OK) < 0 || pcap_load(path, &live) < 0)
		return;
	while (same < live.n && same < r->out.n &&
	       live.v[same].len == r->out.v[same].len &&
	       !memcmp(live.v[same].data, r->out.v[same].data, live.v[same].len))
		same++;
	printf("the capture has %zu frames from the stack, the replay sends %zu; "
	       "the first %zu are identical\n(ustack-replay --expect live.pcap %s "
	       "shows the first difference)\n", live.n, r->out.n, same, r->dir);
	frames_free(&live);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ustack-replay [-v] [--update] [--expect FILE] [--tolerance DUR] CASE_DIR\n"
"       ustack-replay --from CAPTURE [--addr A.B.C.D/N] [--mac MAC]\n"
"                     [--service LINE]... [--start T] [--end T] CASE_DIR\n"
"\n"
"Replay CASE_DIR/in.pcap through a stack configured by CASE_DIR/case.conf in\n"
"virtual time and compare every frame it sends (bytes, and time within the\n"
"tolerance) with CASE_DIR/out.pcap. Exit 0 on a match, 1 on a difference\n"
"(the first one is decoded field by field), 2 on errors.\n"
"\n"
"  -v, --verbose        print every frame in and out\n"
"  -u, --update         write out.pcap from what the stack sends now\n"
"  --expect FILE        compare with FILE (in CASE_DIR) instead of out.pcap\n"
"  --tolerance DUR      override the case's time tolerance (e.g. 5ms)\n"
"  --from CAPTURE       make CASE_DIR from an Ethernet capture: frames to the\n"
"                       stack become in.pcap, its own frames live.pcap; writes\n"
"                       case.conf and case.txt unless they exist, then out.pcap\n"
"  --addr, --mac        the stack in the capture (default 10.0.0.2/24; the MAC\n"
"                       is found from the address)\n"
"  --service LINE       a service line for case.conf, e.g. 'tcp-echo 7'\n"
"  --start T, --end T   case.conf start and end (see tests/replay/README.md)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"verbose", no_argument, NULL, 'v'},
		{"update", no_argument, NULL, 'u'},
		{"expect", required_argument, NULL, 'e'},
		{"tolerance", required_argument, NULL, 't'},
		{"from", required_argument, NULL, 'f'},
		{"addr", required_argument, NULL, 'a'},
		{"mac", required_argument, NULL, 'm'},
		{"service", required_argument, NULL, 's'},
		{"start", required_argument, NULL, 'S'},
		{"end", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct replay r;
	struct from_opts fo = {0};
	const char *expect = NULL;
	ustack_time_t tol = 0;
	int update = 0, tol_set = 0, c, rc;

	while ((c = getopt_long(argc, argv, "vuh", lo, NULL)) != -1) {
		switch (c) {
		case 'v': r.verbose = 1; break;
		case 'u': update = 1; break;
		case 'e': expect = optarg; break;
		case 'f': fo.capture = optarg; break;
		case 'a': fo.addr = optarg; break;
		case 'm': fo.mac = optarg; break;
		case 'S': fo.start = optarg; break;
		case 'E': fo.end = optarg; break;
		case 's':
			if (fo.nsvc < MAX_SVC)
				fo.svc[fo.nsvc++] = optarg;
			break;
		case 't':
			if (parse_dur(optarg, &tol) < 0) {
				fprintf(stderr, "ustack-replay: --tolerance: bad "
					"duration '%s'\n", optarg);
				return EXIT_ERROR;
			}
			tol_set = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_ERROR;
	}
	r.dir = argv[optind];
	conf_defaults(&r);
	if (fo.capture) {
		if ((rc = from_capture(r.dir, &fo)) != 0)
			return rc;
		update = 1;
	}
	r.tol_override = tol_set ? (tol ? tol : 1) : 0;
	rc = replay_case(&r, update, expect);
	if (fo.capture && rc == 0)
		from_summary(&r);
	replay_free(&r);
	return rc;
}
