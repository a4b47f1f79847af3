/* mount_lease.c - what the mount tells the user about the store
 * (mount_lease.h): the lease's read-only fallback with the other device's
 * name, and the last change of the head with its writer's name. It must
 * never log those names (the terminal gets them, escaped). */
#include "mount_lease.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"

void mount_lease_line(int fd, const struct engine *e)
{
	char line[512], date[40] = "?", name[4 * DIROBJ_DEVICE_NAME_MAX + 1] = "";
	const struct lease_holder *h = &e->lease_holder;
	time_t t = (time_t)h->until;
	struct tm tm;
	int n;

	if (!e->lease_read_only)
		return;
	if (h->readable && localtime_r(&t, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", &tm);
	if (h->readable) /* escaped: another device wrote it */
		errbuf_escape(name, sizeof(name), h->name);
	if (h->readable)
		n = snprintf(line, sizeof(line),
			     "%sread-only: another device (%s) holds the store's lease until %s; "
			     "'sealfs mount --force' takes it over\n",
			     fd >= 0 ? "I" : "", name, date);
	else
		n = snprintf(line, sizeof(line),
			     "%sread-only: the store holds a lease that does not open (another "
			     "vault's, or damaged); 'sealfs mount --force' replaces it\n",
			     fd >= 0 ? "I" : "");
	if (n > 0 && (size_t)n < sizeof(line))
		mount_tell(fd, line, n, "the mount is read-only");
}

void mount_tell(int fd, const char *line, int n, const char *what)
{
	if (fd < 0) {
		fputs(line, stdout);
		fflush(stdout);
	} else if (write(fd, line, (size_t)n) != n) {
		log_msg(LOG_WARNING, "telling the parent %s failed", what);
	}
}

bool mount_lease_stopped(const struct engine *e)
{
	int64_t until;
	enum lease_state s = lease_state(e->lease, &until);

	return s == LEASE_OTHER || s == LEASE_LOST;
}

/* "last change DATE by NAME" of the store's head (format 2; never logged:
 * the name is the user's label), up the startup pipe as "I<line>\n", or to
 * stdout in the foreground. */
void mount_last_change(int fd, const struct engine_head_info *h)
{
	char line[400], date[40], name[4 * DIROBJ_DEVICE_NAME_MAX + 1];
	time_t t = (time_t)h->time.sec;
	struct tm tm;
	int n;

	if (h->format < 2)
		return;
	if (!localtime_r(&t, &tm) || strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(date, sizeof(date), "@%lld", (long long)h->time.sec);
	/* escaped: another device wrote it */
	errbuf_escape(name, sizeof(name), h->device_name[0] ? h->device_name : "(unnamed device)");
	n = snprintf(line, sizeof(line), "%slast change %s by %s\n", fd >= 0 ? "I" : "", date,
		     name);
	if (n > 0 && (size_t)n < sizeof(line))
		mount_tell(fd, line, n, "the last change");
}
