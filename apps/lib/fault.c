/*
 * fault.c - the --fault SPEC option: "loss=1%,dup=0.5%,reorder=1%,
 * corrupt=100ppm,delay=5ms,jitter=1ms,seed=7,rx=1,tx=1" into a
 * struct ustack_fault_config. Probabilities take "%" or "ppm" (a bare number
 * is ppm); times need a unit (us, ms, s). Pure parsing, no state.
 *
 * May touch: nothing but the struct it fills.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

/* "1.5%" -> 15000, "250ppm" / "250" -> 250. */
static int parse_ppm(const char *v, uint32_t *out)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || d < 0)
		return -1;
	if (strcmp(end, "%") == 0)
		d *= 10000.0;
	else if (*end && strcmp(end, "ppm") != 0)
		return -1;
	if (d > 1000000.0)
		return -1;
	*out = (uint32_t)(d + 0.5);
	return 0;
}

/* "5ms", "200us", "1.5s" -> microseconds. */
static int parse_time(const char *v, ustack_time_t *out)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || d < 0)
		return -1;
	if (strcmp(end, "us") == 0)
		;
	else if (strcmp(end, "ms") == 0)
		d *= 1e3;
	else if (strcmp(end, "s") == 0)
		d *= 1e6;
	else
		return -1;
	if (d > 60e6)
		return -1;
	*out = (ustack_time_t)(d + 0.5);
	return 0;
}

static int set_key(struct ustack_fault_config *c, const char *k, const char *v)
{
	uint64_t n;

	if (strcmp(k, "loss") == 0)
		return parse_ppm(v, &c->loss_ppm);
	if (strcmp(k, "dup") == 0)
		return parse_ppm(v, &c->dup_ppm);
	if (strcmp(k, "reorder") == 0)
		return parse_ppm(v, &c->reorder_ppm);
	if (strcmp(k, "corrupt") == 0)
		return parse_ppm(v, &c->corrupt_ppm);
	if (strcmp(k, "delay") == 0)
		return parse_time(v, &c->delay_us);
	if (strcmp(k, "jitter") == 0)
		return parse_time(v, &c->jitter_us);
	if (strcmp(k, "seed") == 0) {
		if (app_parse_u64(v, 0, UINT64_MAX, &n) < 0)
			return -1;
		c->seed = n;
		return 0;
	}
	if (strcmp(k, "rx") == 0 || strcmp(k, "tx") == 0) {
		if (strcmp(v, "0") && strcmp(v, "1"))
			return -1;
		*(k[0] == 'r' ? &c->rx : &c->tx) = v[0] == '1';
		return 0;
	}
	return -2;
}

int app_parse_fault(const char *spec, struct ustack_fault_config *cfg,
		    char *err, size_t errlen)
{
	char buf[256], *save = NULL, *item;

	if (!spec || strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "empty or too long");
		return -1;
	}
	strcpy(buf, spec);
	for (item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		int r;

		if (!eq) {
			snprintf(err, errlen, "'%s': expected key=value", item);
			return -1;
		}
		*eq = 0;
		r = set_key(cfg, item, eq + 1);
		if (r == -2) {
			snprintf(err, errlen, "unknown key '%s' (loss, dup, "
				 "reorder, corrupt, delay, jitter, seed, rx, tx)",
				 item);
			return -1;
		}
		if (r < 0) {
			snprintf(err, errlen, "bad value '%s' for %s (rates: "
				 "N%% or Nppm; times: Nus, Nms, Ns; rx/tx: 0|1)",
				 eq + 1, item);
			return -1;
		}
	}
	return 0;
}
