/*
 * conf.c - case.conf for ustack-replay: the stack's configuration, the times
 * and the services a case opens (format: tests/replay/README.md).
 * Part of ustack-replay (replay.h).
 *
 * May touch: only struct replay.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

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
int parse_time(const char *s, struct tspec *t)
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

int parse_dur(const char *s, ustack_time_t *out)
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

int set_text(struct replay *r, struct svc *sv, const char *s)
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

/* `set NAME VALUE`: a numeric field of struct ustack_config by name
 * (the library's table, ustack_config_set). */
static int conf_set(struct replay *r, const char *name, const char *val)
{
	uint64_t v;
	int e;

	if (parse_num(val, UINT64_MAX, &v) < 0)
		return conf_err(r, "set %s: bad number '%s'", name, val);
	e = ustack_config_set(&r->cfg, name, v);
	if (e == -ENOENT)
		return conf_err(r, "set: no config field '%s'", name);
	if (e < 0)
		return conf_err(r, "set %s: %s does not fit the field", name, val);
	return 0;
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

void conf_defaults(struct replay *r)
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

int conf_load(struct replay *r, const char *path)
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
ustack_time_t tresolve(const struct tspec *t, ustack_time_t base,
			      ustack_time_t dflt)
{
	if (!t->set)
		return dflt;
	return t->rel ? base + t->v : t->v;
}
