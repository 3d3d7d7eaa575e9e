// SPDX-License-Identifier: GPL-2.0
/*
 * json_str.c - pc_json_str(): a JSON string for text that may not be UTF-8
 * (interface names are bytes: the kernel takes any but '/', ':' and
 * whitespace). Valid UTF-8 is kept as is; every byte that is not part of
 * a valid sequence becomes the four characters \xNN, so jansson (which
 * refuses invalid UTF-8) always gets a string that shows every byte.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

json_t *pc_json_str(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0, n;
	json_t *j;
	char *buf;

	buf = malloc(len * 4 + 1);
	if (!buf)
		return NULL;
	while (*p) {
		n = utf8_len(p);
		if (n) {
			memcpy(buf + o, p, n);
			o += n;
			p += n;
			continue;
		}
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[*p >> 4];
		buf[o++] = hex[*p & 15];
		p++;
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}
