/* cli_mount_head.c - the options of `sealfs mount` about the store's head
 * (docs/CLI.md, "mount"): --device-name, --expect FINGERPRINT, --not-before
 * DATE, --accept-store-head, --force (the store's lease); parsed here so that cli_mount.c stays
 * about mounting. Never touches the store or a key: the engine checks the head
 * (fs/vault/engine_pin.c) on the bytes it mounts. */
#include "cli_mount.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli_util.h"
#include "head.h"

/* A zone after a date: "", "Z", "UTC", "+hh", "+hhmm", "+hh:mm" (or '-'),
 * optionally after one space. 0 with *local (no zone) or *off seconds east
 * of UTC; -1 malformed. */
static int cli_date_zone(const char *s, bool *local, long *off)
{
	int hh = 0, mm = 0, n = 0;

	*local = false;
	*off = 0;
	if (*s == ' ' || *s == 'T')
		s++;
	if (*s == '\0') {
		*local = true;
		return 0;
	}
	if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0)
		return 0;
	if ((s[0] != '+' && s[0] != '-') || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]))
		return -1;
	hh = (s[1] - '0') * 10 + (s[2] - '0');
	n = 3;
	if (s[n] == ':')
		n++;
	if (isdigit((unsigned char)s[n]) && isdigit((unsigned char)s[n + 1])) {
		mm = (s[n] - '0') * 10 + (s[n + 1] - '0');
		n += 2;
	}
	if (s[n] != '\0' || hh > 23 || mm > 59)
		return -1;
	*off = (s[0] == '-' ? -1 : 1) * (long)(hh * 3600 + mm * 60);
	return 0;
}

int cli_parse_date(int64_t *out, const char *s)
{
	struct tm tm = {0};
	const char *rest;
	char *end;
	long off;
	bool local;
	time_t t;

	if (s[0] == '@') {
		long long v = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end || v <= 0)
			return -1;
		*out = v;
		return 0;
	}
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (!rest)
		return -1;
	if ((*rest == ' ' || *rest == 'T') && isdigit((unsigned char)rest[1])) {
		const char *r2 = strptime(rest + 1, "%H:%M:%S", &tm);
		rest = r2 ? r2 : strptime(rest + 1, "%H:%M", &tm);
		if (!rest)
			return -1;
	}
	if (cli_date_zone(rest, &local, &off) != 0)
		return -1;
	tm.tm_isdst = -1;
	t = local ? mktime(&tm) : timegm(&tm) - off;
	if (t == (time_t)-1 || t <= 0)
		return -1;
	*out = (int64_t)t;
	return 0;
}

int cli_mount_head_option(struct cli_mount_head *h, int c, const char *val)
{
	switch (c) {
	case CLI_MOUNT_OPT_DEVICE_NAME:
		if (!head_device_name_ok(val, strlen(val)))
			return cli_usage("mount",
					 "--device-name: 1 to %d bytes of UTF-8 without "
					 "control characters",
					 HEAD_DEVICE_NAME_MAX);
		h->device_name = val;
		return 0;
	case CLI_MOUNT_OPT_ACCEPT:
		h->accept_store_head = true;
		return 0;
	case CLI_MOUNT_OPT_FORCE:
		h->force = true;
		return 0;
	case CLI_MOUNT_OPT_EXPECT:
		if (strlen(val) != 2 * HEAD_FP_BYTES ||
		    sodium_hex2bin(h->expect, sizeof(h->expect), val, strlen(val), NULL, NULL,
				   NULL) != 0)
			return cli_usage("mount",
					 "--expect takes a head's fingerprint: %d hex "
					 "digits, as 'sealfs info --unlock' shows it",
					 2 * HEAD_FP_BYTES);
		h->has_expect = true;
		return 0;
	case CLI_MOUNT_OPT_NOT_BEFORE:
		if (cli_parse_date(&h->not_before, val) != 0)
			return cli_usage("mount",
					 "--not-before takes a date: YYYY-MM-DD, "
					 "'YYYY-MM-DD HH:MM[:SS]' (local time, or with Z or "
					 "+hh:mm), or @SECONDS");
		return 0;
	default:
		return -1;
	}
}
