/*
 * replay.h - what the parts of ustack-replay share (apps/replay.c: capture
 * files, the device, running a case, --from, main; replay/conf.c: case.conf;
 * replay/services.c: the programs' socket calls; replay/decode.c: decoding
 * and comparing frames). Internal to the program.
 */
#ifndef USTACK_APPS_REPLAY_H
#define USTACK_APPS_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "../lib/inetd_svc.h"
#include "../lib/nc_copy.h"
#include "../lib/wire.h"

#define SNAPLEN 262144u
#define MAX_SVC 16
#define MAX_CONNS 256
#define MAX_TOK 32
#define NC_LINGER_US USTACK_SEC(3)
#define PASS_ROUNDS 64          /* poll/handle rounds per event */
#define RT_BATCH 64             /* frames per runtime pass (RT_DEV_BUDGET) */
#define MAX_STEPS 5000000u      /* events in one run: more is a stuck clock */
#define EXIT_MISMATCH 1
#define EXIT_ERROR 2

struct frame {
	ustack_time_t at;
	uint32_t len;
	uint8_t *data;
};

struct frames {
	struct frame *v;
	size_t n, cap;
};

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
	/* ustack-nc's state: its copy is ustack-nc's own code */
	enum nc_state nc;
	struct nc_copy cp;           /* apps/lib/nc_copy.c */
	size_t rd;                   /* stdin (data) bytes read */
	int pump_now;
	ustack_time_t deadline;      /* connect give-up, linger end */
};

struct replay {
	const char *dir;
	struct ustack_config cfg;
	ustack_time_t start, input_at, tol;
	struct tspec end;
	int input_at_set;
	struct svc svc[MAX_SVC];
	int nsvc;
	struct inetd_ctx inetd;      /* ustack-inetd's services (tag: svc index) */
	uint8_t *scratch;            /* NC_BUF bytes for ustack-nc's reads */
	struct ustack *st;
	struct frames in, out, exp;
	ustack_time_t end_at;
	ustack_time_t tol_override;  /* --tolerance, 0: none */
	int exited, verbose;
	char err[256];
};

/* Big-endian loads (the shared decoder's, apps/lib/wire.h). */
#define ld16 wire_be16
#define ld32 wire_be32

/* replay.c */
int frames_add(struct frames *fs, ustack_time_t at, const void *p,
	       uint32_t len);

/* conf.c: case.conf (format: tests/replay/README.md) */
void conf_defaults(struct replay *r);
int conf_load(struct replay *r, const char *path);
int parse_time(const char *s, struct tspec *t);
int parse_dur(const char *s, ustack_time_t *out);
int set_text(struct replay *r, struct svc *sv, const char *s);
ustack_time_t tresolve(const struct tspec *t, ustack_time_t base,
		       ustack_time_t dflt);

/* services.c: ustack-inetd's and ustack-nc's calls, driven by hand;
 * svc_open_all sets up r->inetd, run() frees it after the stack */
int svc_open_all(struct replay *r);
void svc_pass(struct replay *r);
ustack_time_t next_action(const struct replay *r, ustack_time_t now);

/* decode.c */
char *fmt_mac(const uint8_t *m, char *b);
int compare(struct replay *r, const char *what);

#endif
