/*
 * targets.c - the two fuzz targets, as plain functions: fuzz_frame.c and
 * fuzz_seq.c wrap them for libFuzzer, regress.c calls them on the saved
 * inputs of tests/fuzz/regressions/ in `make check`.
 *
 * frame: one input is one frame (harness.h's fz_build format) into a stack
 *        with a connection in every TCP state; then a second of virtual
 *        time passes so the timers the frame armed fire.
 * seq:   one input is a sequence of records [u16 len][u8 dt][len bytes],
 *        big-endian length; each record moves the clock by dt, then its
 *        bytes become a frame through fz_build (the first byte picks the
 *        mode, so "0, then a raw frame" is the plain case). dt: bit 7 set
 *        means "fix the IPv4 and transport checksums" of the frame; the
 *        low 7 bits are 0..63 ms, 64..95 -> (dt-63) * 64 ms, 96..127 ->
 *        (dt-95) * 4 s, enough to reach retransmission, TIME_WAIT and
 *        reassembly timeouts. At the end the clock runs on 130 s.
 */
#include <stdlib.h>

#include "fuzz/harness.h"

#define MAX_RECORDS 256

static ustack_time_t dt_us(uint8_t dt)
{
	dt &= 0x7f;
	if (dt < 64)
		return USTACK_MS(dt);
	if (dt < 96)
		return USTACK_MS((dt - 63) * 64);
	return USTACK_SEC((dt - 95) * 4);
}

int fz_frame_one(const uint8_t *data, size_t size)
{
	struct fz *z = malloc(sizeof(*z));
	uint8_t *f = malloc(FZ_FRAME_MAX);
	size_t len;

	if (!z || !f)
		abort();
	fz_new(z, FZ_SETUP_STATES);
	len = fz_build(z, data, size, f, FZ_FRAME_MAX);
	if (len)
		fz_input(z, f, len);
	fz_advance(z, USTACK_SEC(1));
	fz_free(z);
	free(z);
	free(f);
	return 0;
}

int fz_seq_one(const uint8_t *data, size_t size)
{
	struct fz *z = malloc(sizeof(*z));
	uint8_t *f = malloc(FZ_FRAME_MAX);
	size_t off = 0;
	int n = 0;

	if (!z || !f)
		abort();
	fz_new(z, FZ_SETUP_STATES);
	while (off + 3 <= size && n++ < MAX_RECORDS) {
		size_t rl = (size_t)data[off] << 8 | data[off + 1], len;
		uint8_t dt = data[off + 2];

		off += 3;
		if (rl > size - off)
			rl = size - off;
		/* Records at the same time (dt 0) after the first reach the
		 * stack as one device read batch (software GRO). */
		if (dt & 0x7f)
			fz_flush(z);
		fz_advance(z, dt_us(dt));
		len = fz_build(z, data + off, rl, f, FZ_FRAME_MAX);
		if (len && (dt & 0x80))
			fz_fix_checksums(f, len);
		if (len)
			fz_queue(z, f, len);
		off += rl;
	}
	fz_flush(z);
	fz_advance(z, USTACK_SEC(130));
	fz_free(z);
	free(z);
	free(f);
	return 0;
}
