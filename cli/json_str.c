// SPDX-License-Identifier: GPL-2.0
/*
 * json_str.c - pc_json_str: a JSON string of any C string. jansson's
 * json_string() refuses bytes that are not UTF-8 and returns NULL, and a
 * NULL put into an object makes the whole document fail: file names,
 * interface names and policy text come from outside and may hold any
 * byte. Valid UTF-8 is kept as it is (control characters included: JSON
 * escapes them); every other byte becomes the text \xNN (pc_escape).
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/policy.h"

json_t *pc_json_str(const char *s)
{
	size_t len, n;
	json_t *j;
	char *buf;

	if (!s)
		return json_null();
	len = strlen(s);
	n = pc_escape(s, len, 0, NULL, 0);
	if (n == len)	/* nothing to escape: valid UTF-8 already */
		return json_stringn(s, len);
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	pc_escape(s, len, 0, buf, n + 1);
	j = json_stringn(buf, n);
	free(buf);
	return j;
}
