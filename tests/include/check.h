/* check.h - the one assertion kit of every C test program: CHECK, CHECKF and
 * CHECK_RC over one pair of counters, and check_done, which prints the
 * program's one summary line and gives its exit status. A failed check prints
 * where it is and goes on, so one run shows every broken case; a program that
 * ran no check at all fails, so no test passes by doing nothing. Checks may run
 * on several threads at once. Test code only: nothing here may ever be linked
 * into sealfs. */
#ifndef SEALFS_TEST_CHECK_H
#define SEALFS_TEST_CHECK_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

static atomic_int check_count;	  /* checks run so far, on any thread */
static atomic_int check_failures; /* of those, the failed ones */

static inline bool check_one(bool ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Counts one check; when !ok prints "FAIL file:line: <message>" as one line. */
static inline bool check_one(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&check_count, 1);
	if (ok)
		return true;
	atomic_fetch_add(&check_failures, 1);
	flockfile(stderr);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	return false;
}

/* CHECK(cond): the message is the condition's text. CHECKF(cond, fmt, ...):
 * the message is formatted (say what was seen). Both evaluate to cond. */
#define CHECK(cond) check_one((cond) ? true : false, __FILE__, __LINE__, "%s", #cond)
#define CHECKF(cond, ...) check_one((cond) ? true : false, __FILE__, __LINE__, __VA_ARGS__)

/* An integer result against the one wanted; prints both when they differ. */
#define CHECK_RC(expr, want)                                                                       \
	do {                                                                                       \
		long long check_got_ = (long long)(expr), check_want_ = (long long)(want);         \
		check_one(check_got_ == check_want_, __FILE__, __LINE__, "%s = %lld, want %lld",   \
			  #expr, check_got_, check_want_);                                         \
	} while (0)

/* Lines of /proc/self/maps: the process's mappings, or -1 when unreadable. */
static inline long check_maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* The end of main: prints "<name>: N checks, M failed" and returns the exit
 * status, 1 when a check failed or when none ran. */
static inline int check_done(const char *name)
{
	int n = atomic_load(&check_count), bad = atomic_load(&check_failures);

	fflush(stdout);
	if (n == 0) {
		fprintf(stderr, "FAIL %s: no check ran\n", name);
		return 1;
	}
	fprintf(bad ? stderr : stdout, "%s%s: %d checks, %d failed\n", bad ? "FAIL " : "", name, n,
		bad);
	return bad ? 1 : 0;
}

#endif
