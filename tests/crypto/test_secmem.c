/* test_secmem.c - the locked slot pool of short-lived secrets: 200,000 slots
 * cost a bounded number of mappings (one sodium_malloc per secret, the old
 * design, needs four each and fails near 16,000), freeing gives them back,
 * freed slots are wiped, slots are aligned and disjoint, several threads
 * allocate and free at once, and a refused mlock is reported once. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secmem.h"
#include "vectors.h"

/* 200,000 slots of a SigV4-sized 64 bytes, then all freed. */
static void test_maps_stay_flat(void)
{
	enum { N = 200000 };
	struct secmem_pool *pool = secmem_pool_new(64, NULL, NULL);
	unsigned char **s = calloc(N, sizeof(*s));
	long before = check_maps_count(), during, after;
	struct secmem_stats st, after_st;
	size_t n = 0;

	CHECK(pool && s && before > 0);
	for (; pool && s && n < N; n++) {
		if (!(s[n] = secmem_alloc(pool)))
			break;
		s[n][0] = 1; /* touch it: it is ours */
	}
	CHECK(n == N);
	during = check_maps_count();
	secmem_pool_stats(pool, &st);
	printf("%d slots: %zu regions, %zu KiB, maps %ld -> %ld\n", N, st.regions,
	       st.region_bytes >> 10, before, during);
	CHECK(during - before < 100);
	CHECK(st.slots_used == n && st.slot_bytes == 64);
	CHECK(st.region_bytes < (size_t)N * 64 + 2 * SECMEM_REGION_MAX);
	for (size_t i = 0; i < n; i++)
		secmem_free(pool, s[i]);
	after = check_maps_count();
	secmem_pool_stats(pool, &after_st);
	printf("freed: %zu regions, maps %ld\n", after_st.regions, after);
	CHECK(after_st.regions <= 1 && after_st.slots_used == 0);
	/* The regions are unmapped (about 4 mappings each; one empty one is
	 * kept); what stays is malloc's own, more under ASan's quarantine. */
	CHECK(during - after >= 3 * (long)(st.regions - after_st.regions));
	CHECK(after - before < 100);
	free(s);
	secmem_pool_free(pool);
}

/* A freed slot reads as zeros (the region stays mapped: one slot of two is
 * still in use), and the next allocation of it is zeroed too. */
static void test_freed_slots_are_wiped(void)
{
	struct secmem_pool *pool = secmem_pool_new(100, NULL, NULL);
	unsigned char *a = pool ? secmem_alloc(pool) : NULL;
	unsigned char *b = pool ? secmem_alloc(pool) : NULL;
	unsigned char *again;

	CHECK(a && b && a != b);
	if (!a || !b)
		goto out;
	CHECK(secmem_slot_bytes(pool) == 112); /* rounded up to 16 */
	CHECK(check_all_zero(a, 112) && check_all_zero(b, 112));
	memset(a, 0xa5, 112);
	memset(b, 0x5a, 112);
	secmem_free(pool, a);
	CHECK(check_all_zero(a, 112)); /* still mapped: b lives in the region */
	CHECK(b[0] == 0x5a && b[111] == 0x5a);
	again = secmem_alloc(pool);
	CHECK(again == a); /* a free slot is reused, and it is zero */
	CHECK(again && check_all_zero(again, 112));
	secmem_free(pool, again);
	secmem_free(pool, b);
	secmem_free(pool, NULL);
out:
	secmem_pool_free(pool);
	CHECK(secmem_pool_new(0, NULL, NULL) == NULL);
	CHECK(secmem_pool_new(SECMEM_SLOT_MAX + 1, NULL, NULL) == NULL);
	secmem_pool_free(NULL);
}

/* Every slot size: 16-aligned, disjoint, within one region's bounds. */
static void test_alignment(void)
{
	size_t sizes[] = {1, 15, 16, 17, 560, 1000, SECMEM_SLOT_MAX};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct secmem_pool *pool = secmem_pool_new(sizes[k], NULL, NULL);
		size_t sb = pool ? secmem_slot_bytes(pool) : 0, n = 0;
		unsigned char *prev = NULL, *p;
		bool aligned = true, apart = true;

		CHECK(pool && sb % SECMEM_ALIGN == 0 && sb >= sizes[k]);
		for (; pool && n < 3000; n++) {
			if (!(p = secmem_alloc(pool)))
				break;
			aligned &= (uintptr_t)p % SECMEM_ALIGN == 0;
			if (prev) /* the lowest free index first: consecutive in a region */
				apart &= p >= prev + sb || p + sb <= prev;
			memset(p, 0xff, sb); /* ASan and the canary see an overrun */
			prev = p;
		}
		CHECK(n == 3000 && aligned && apart);
		secmem_pool_free(pool); /* with live slots: unmapped all the same */
	}
}

struct worker {
	struct secmem_pool *pool;
	unsigned seed;
	int bad;
};

/* Allocates and frees in a random pattern; each slot is filled with the
 * thread's own byte and must still hold it (no one else got the slot). */
static void *worker_run(void *arg)
{
	enum { LIVE = 3000, ROUNDS = 60000 };
	struct worker *w = arg;
	unsigned char **live = calloc(LIVE, sizeof(*live));
	unsigned char mark = (unsigned char)(w->seed | 1);
	size_t sb = secmem_slot_bytes(w->pool);

	if (!live) {
		w->bad++;
		return NULL;
	}
	for (int r = 0; r < ROUNDS; r++) {
		size_t i = rand_r(&w->seed) % LIVE;
		if (live[i]) {
			for (size_t j = 0; j < sb; j++)
				w->bad += live[i][j] != mark;
			secmem_free(w->pool, live[i]);
			live[i] = NULL;
		} else if ((live[i] = secmem_alloc(w->pool)) != NULL) {
			w->bad += !check_all_zero(live[i], sb);
			memset(live[i], mark, sb);
		} else {
			w->bad++;
		}
	}
	for (size_t i = 0; i < LIVE; i++)
		secmem_free(w->pool, live[i]);
	free(live);
	return NULL;
}

static void test_threads(void)
{
	enum { NT = 4 };
	struct secmem_pool *pool = secmem_pool_new(48, NULL, NULL);
	struct worker w[NT];
	pthread_t th[NT];
	struct secmem_stats st;

	CHECK(pool != NULL);
	if (!pool)
		return;
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){pool, 0x1234u * (unsigned)(i + 1), 0};
		CHECK(pthread_create(&th[i], NULL, worker_run, &w[i]) == 0);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].bad == 0);
	}
	secmem_pool_stats(pool, &st);
	CHECK(st.slots_used == 0 && st.regions <= 1);
	secmem_pool_free(pool);
}

static int refusals;
static int refused_err;

static void on_refused(void *arg, int err, size_t bytes)
{
	(void)arg;
	refusals++;
	refused_err = err;
	printf("refused to lock %zu bytes: %s\n", bytes, strerror(err));
}

/* VmLck of this process in KiB, or -1. */
static long vm_locked_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* In a child without the right to lock memory (RLIMIT_MEMLOCK 0, and no
 * longer root, who may lock past it), over a pool its parent made and used
 * (locks are not inherited: the child must lock again): the slots still
 * work, the refusal is reported exactly once however many regions follow,
 * and stats show it. */
static int refused_child(struct secmem_pool *pool)
{
	struct rlimit rl = {0, 0};
	struct secmem_stats st;
	int ok = 1;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return 2;
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return 3;
	ok = secmem_alloc(pool) != NULL; /* from the parent's region */
	if (!ok || refusals != 1 || refused_err == 0)
		return 4;
	for (int i = 0; i < 2000 && ok; i++) { /* 8 MiB: many new regions */
		unsigned char *p = secmem_alloc(pool);
		ok = p != NULL;
		if (p)
			p[4095] = 1; /* not freed: keeps the regions */
	}
	secmem_pool_stats(pool, &st);
	if (!ok || refusals != 1 || !st.mlock_refused || st.regions < 3)
		return 5;
	return 0;
}

/* A child allowed to lock locks its parent's regions again. */
static int relock_child(struct secmem_pool *pool)
{
	struct rlimit rl;
	long before = vm_locked_kib(), after;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return 2;
	if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1u << 20))
		return 0; /* not allowed to lock enough here: nothing to see */
	if (before != 0 || !secmem_alloc(pool))
		return 3;
	after = vm_locked_kib();
	return after >= (long)(SECMEM_REGION_MIN >> 10) - 4 && refusals == 0 ? 0 : 4;
}

/* Whether mlock really locks: the sanitizers' interceptors make it a no-op
 * that succeeds (VmLck stays put), and then there is nothing to observe. */
static bool mlock_is_real(void)
{
	static unsigned char page[2 * 4096];
	unsigned char *p = page + (4096 - (uintptr_t)page % 4096);
	long before = vm_locked_kib();
	bool real;

	if (sodium_mlock(p, 4096) != 0)
		return true; /* refused: it is the kernel answering */
	real = vm_locked_kib() > before;
	sodium_munlock(p, 4096);
	return real;
}

static void run_child(int (*child)(struct secmem_pool *), const char *name)
{
	struct secmem_pool *pool = secmem_pool_new(4096, on_refused, NULL);
	void *mine = pool ? secmem_alloc(pool) : NULL;
	int st = 0;
	pid_t pid;

	CHECK(mine != NULL && refusals == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(child(pool));
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "%s: status %d\n", name, st);
	secmem_free(pool, mine);
	secmem_pool_free(pool);
}

/* Root may lock past the limit: nothing to report in the parent's pools. */
static void test_locked_pool_reports_nothing(void)
{
	struct secmem_pool *pool = secmem_pool_new(64, on_refused, NULL);
	void *p = pool ? secmem_alloc(pool) : NULL;
	struct rlimit rl;
	struct secmem_stats st;

	CHECK(p != NULL);
	if (!p || getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		goto out;
	secmem_pool_stats(pool, &st);
	if (geteuid() == 0 || rl.rlim_cur >= SECMEM_REGION_MIN * 2)
		CHECK(!st.mlock_refused && refusals == 0);
	secmem_free(pool, p);
out:
	secmem_pool_free(pool);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_locked_pool_reports_nothing();
	test_freed_slots_are_wiped();
	test_alignment();
	test_maps_stay_flat();
	test_threads();
	if (mlock_is_real()) {
		run_child(relock_child, "relock_child");
		run_child(refused_child, "refused_child");
	} else {
		printf("mlock is a no-op here (a sanitizer?): lock tests skipped\n");
	}
	return check_done("test_secmem");
}
