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
 * same order of calls as ustack-inetd and ustack-nc; the inetd services are
 * ustack-inetd's own code, apps/lib/inetd_svc.c), feeds every inbound
 * frame at its recorded time, fires the timers at their deadlines in between
 * and after the last frame up to the case's end, and compares every frame
 * sent (bytes, and time within the tolerance) with out.pcap. The first
 * difference is decoded layer by layer. --update writes out.pcap instead;
 * --from turns any Ethernet capture into a case.
 *
 * This file: capture files, the device, running a case, --from and main;
 * apps/replay/ holds case.conf (conf.c), the programs' socket calls
 * (services.c) and the frame decoder and comparison (decode.c).
 * An ordinary program: public headers and libpcap; no clock is read.
 * Exit: 0 match, 1 mismatch, 2 usage or setup error.
 *
 * May touch: the case's files (read; written only with --update), its own
 * stack in virtual time, stdout and stderr.
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

#include "replay/replay.h"

/* ---- frames and capture files -------------------------------------------- */

int frames_add(struct frames *fs, ustack_time_t at, const void *p,
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
	const struct frames *in;
	size_t next, end;     /* inbound frames receive() hands out now */
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
	struct rdev *r = (struct rdev *)d;
	const struct frame *f;

	(void)now;
	if (r->next >= r->end)
		return 0;
	f = &r->in->v[r->next++];
	if (f->len > cap)
		return -EMSGSIZE;
	memcpy(buf, f->data, f->len);
	return (long)f->len;
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

/* The device and the stack at the case's start; ustack-nc's read buffer. */
static struct rdev *run_setup(struct replay *r)
{
	struct rdev *dev = calloc(1, sizeof(*dev));
	int e;

	if (!dev || !(r->scratch = malloc(NC_BUF))) {
		free(dev);
		return NULL;
	}
	dev->base.ops = &rdev_ops;
	dev->base.kind = "replay";
	snprintf(dev->base.name, sizeof(dev->base.name), "replay0");
	dev->base.mtu = r->cfg.mtu;
	memcpy(dev->base.mac, r->cfg.mac, 6);
	dev->out = &r->out;
	dev->in = &r->in;
	if ((e = ustack_create(&r->st, &r->cfg, &dev->base, r->start)) < 0) {
		fprintf(stderr, "ustack-replay: cannot create the stack: %s\n",
			ustack_strerror(e));
		ustack_dev_close(&dev->base);
		return NULL;
	}
	return dev;
}

/* Feed inbound frame i and those stamped alike: they were read in one pass
 * of the runtime (rt_drive: up to RT_BATCH) before timers and the program
 * ran, so they go through the same device read (ustack_poll_dev) and its
 * end-of-batch ACKs. Returns the index of the next frame. */
static size_t feed(struct replay *r, struct rdev *dev, size_t i,
		   ustack_time_t t)
{
	ustack_time_t stamp = r->in.v[i].at;
	size_t end = i + 1;

	while (end < r->in.n && r->in.v[end].at == stamp && end - i < RT_BATCH)
		end++;
	dev->next = i;
	dev->end = end;
	ustack_poll_dev(r->st, t, RT_BATCH);
	dev->next = dev->end = 0;
	return end;
}

/*
 * Virtual time: the next event is the earliest of the next inbound frame,
 * a program's own action and the stack's next deadline; inputs go first,
 * then timers, then the programs, as in the event-loop runtime.
 */
static int run(struct replay *r)
{
	struct rdev *dev = run_setup(r);
	size_t i = 0;
	unsigned steps = 0;
	int rc;

	if (!dev)
		return EXIT_ERROR;
	rc = svc_open_all(r) < 0 ? EXIT_ERROR : 0;
	if (!rc)
		svc_pass(r);
	while (!rc && !r->exited) {
		ustack_time_t now = ustack_now(r->st), t, ta, tt;
		ustack_time_t ti = i < r->in.n ? r->in.v[i].at : USTACK_TIME_NEVER;

		ti = ti < now ? now : ti;
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
		if (t == ti && i < r->in.n)
			i = feed(r, dev, i, t);
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
	inetd_free(&r->inetd);
	return rc;
}

static void replay_free(struct replay *r)
{
	for (int i = 0; i < r->nsvc; i++) {
		free(r->svc[i].data);
		free(r->svc[i].cp.to_net.p);
	}
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

		if ((len >= ETH_HDR_LEN + ARP_LEN &&
		     ld16(f + ETH_OFF_TYPE) == ETH_TYPE_ARP &&
		     !memcmp(f + ETH_HDR_LEN + ARP_OFF_SPA, a, IP4_ADDR_LEN)) ||
		    (len >= ETH_HDR_LEN + IP4_MIN_LEN &&
		     ld16(f + ETH_OFF_TYPE) == ETH_TYPE_IPV4 &&
		     !memcmp(f + ETH_HDR_LEN + IP4_OFF_SRC, a, IP4_ADDR_LEN)))
			return memcpy(mac, f + ETH_OFF_SRC, ETH_ADDR_LEN), 0;
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
		int mine = f->len >= ETH_HDR_LEN &&
			   !memcmp(f->data + ETH_OFF_SRC, mac, ETH_ADDR_LEN);
		int to_us = f->len >= ETH_HDR_LEN &&
			    (!memcmp(f->data + ETH_OFF_DST, mac, ETH_ADDR_LEN) ||
			     (f->data[ETH_OFF_DST] & 1));   /* group address */

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
	if (same == live.n && same == r->out.n)
		printf("the replay sends exactly the %zu frames the capture has from "
		       "the stack\n", same);
	else
		printf("the capture has %zu frames from the stack, the replay sends "
		       "%zu; the first %zu are identical\n(ustack-replay --expect "
		       "live.pcap %s shows the first difference)\n", live.n,
		       r->out.n, same, r->dir);
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

struct args {
	struct from_opts fo;
	const char *expect;
	ustack_time_t tol;           /* --tolerance, 0: the case's */
	int update, verbose;
};

/* Returns the index of CASE_DIR in argv, or -1 (usage printed; *rc set). */
static int parse_args(int argc, char **argv, struct args *a, int *rc)
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
	const char **str[128] = {
		['e'] = &a->expect, ['f'] = &a->fo.capture, ['a'] = &a->fo.addr,
		['m'] = &a->fo.mac, ['S'] = &a->fo.start, ['E'] = &a->fo.end,
	};
	int c;

	*rc = EXIT_ERROR;
	while ((c = getopt_long(argc, argv, "vuh", lo, NULL)) != -1) {
		if (c > 0 && c < 128 && str[c]) {
			*str[c] = optarg;
		} else if (c == 'v') {
			a->verbose = 1;
		} else if (c == 'u') {
			a->update = 1;
		} else if (c == 's') {
			if (a->fo.nsvc < MAX_SVC)
				a->fo.svc[a->fo.nsvc++] = optarg;
		} else if (c == 't') {
			if (parse_dur(optarg, &a->tol) < 0) {
				fprintf(stderr, "ustack-replay: --tolerance: bad "
					"duration '%s'\n", optarg);
				return -1;
			}
			a->tol = a->tol ? a->tol : 1;
		} else {
			usage(c == 'h' ? stdout : stderr);
			*rc = c == 'h' ? 0 : EXIT_ERROR;
			return -1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	return optind;
}

int main(int argc, char **argv)
{
	static struct replay r;
	struct args a = {0};
	int i, rc;

	if ((i = parse_args(argc, argv, &a, &rc)) < 0)
		return rc;
	r.dir = argv[i];
	r.verbose = a.verbose;
	conf_defaults(&r);
	if (a.fo.capture) {
		if ((rc = from_capture(r.dir, &a.fo)) != 0)
			return rc;
		a.update = 1;
	}
	r.tol_override = a.tol;
	rc = replay_case(&r, a.update, a.expect);
	if (a.fo.capture && rc == 0)
		from_summary(&r);
	replay_free(&r);
	return rc;
}
