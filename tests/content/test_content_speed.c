/* test_content_speed.c - sequential throughput of content_write and
 * content_read over 64 MiB in 128 KiB calls (the size FUSE hands over),
 * printed for each suite; the data read back is checked, the speed is not. */
#include "content_test.h"

#define SPEED_TOTAL (64u << 20)
#define SPEED_IO (128u << 10)

struct speed {
	double wall, cpu; /* seconds */
};

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One sequential pass over the file in SPEED_IO calls: writes src, or reads
 * and compares with it. */
static struct speed pass(struct tenv *env, struct content_file *f, const unsigned char *src,
			 unsigned char *dst, bool write)
{
	struct speed sp = {test_now(), cpu_now()};
	bool same = true;

	for (size_t off = 0; off < SPEED_TOTAL; off += SPEED_IO) {
		if (write) {
			CHECK_RC(content_write(&env->ctx, f, src + off, SPEED_IO, off), SPEED_IO);
			continue;
		}
		CHECK_RC(content_read(&env->ctx, f, dst, SPEED_IO, off), SPEED_IO);
		same = same && memcmp(dst, src + off, SPEED_IO) == 0;
	}
	CHECK(same);
	sp.wall = test_now() - sp.wall;
	sp.cpu = cpu_now() - sp.cpu;
	return sp;
}

static void print_speed(const char *what, struct speed sp)
{
	printf(" %s %.0f MB/s (%.0f per CPU second)", what, SPEED_TOTAL / 1e6 / sp.wall,
	       SPEED_TOTAL / 1e6 / sp.cpu);
}

static void run_speed(enum suite_id suite)
{
	unsigned char *src = malloc(SPEED_TOTAL), *dst = malloc(SPEED_IO);
	struct speed w, r, cow;
	struct content_file f;
	struct tenv env;

	if (!src || !dst || tenv_open(&env, suite) < 0) {
		CHECK(!"setup");
		free(src);
		free(dst);
		return;
	}
	randombytes_buf(src, SPEED_TOTAL);
	CHECK_RC(content_new(&f), 0);
	w = pass(&env, &f, src, dst, true);
	r = pass(&env, &f, src, dst, false);
	CHECK_RC(tenv_commit(&env, &f), 0);
	cow = pass(&env, &f, src, dst, true); /* every segment copied on write */
	printf("%s, 64 MiB in 128 KiB calls:", suite_name(suite));
	print_speed("write", w);
	print_speed("read", r);
	print_speed("overwrite after commit", cow);
	printf("\n");
	content_release(&f);
	free(f.garbage);
	tenv_close(&env);
	free(src);
	free(dst);
}

int main(void)
{
	enum suite_id suites[2];
	size_t n;

	if (sodium_init() < 0)
		return 1;
	n = test_suites(suites);
	for (size_t i = 0; i < n; i++)
		run_speed(suites[i]);
	return check_done("test_content_speed");
}
