/*
 * svg.c - the little ustack-draw needs to write SVG: a document with a
 * title and a style sheet, and XML escaping of text. Output is written in
 * a fixed order with fixed number formats, so the same input always gives
 * the same bytes (the tests compare a golden file).
 *
 * May touch: only the FILE it writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "draw.h"

void svg_text_esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* control characters are not allowed in XML 1.0 */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

void svg_printf_esc(FILE *f, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	svg_text_esc(f, buf);
}

int svg_open(struct svg *s, const char *path, int w, int h, const char *title,
	     const char *style)
{
	s->f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (!s->f)
		return -errno;
	s->w = w;
	s->h = h;
	fprintf(s->f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n<title>",
		w, h, w, h);
	svg_text_esc(s->f, title);
	fprintf(s->f, "</title>\n<style>\n%s</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
		style, w, h);
	return 0;
}

int svg_close(struct svg *s)
{
	int bad;

	fputs("</svg>\n", s->f);
	bad = ferror(s->f);
	if (s->f != stdout)
		bad |= fclose(s->f);
	else
		bad |= fflush(s->f);
	s->f = NULL;
	return bad ? -EIO : 0;
}
