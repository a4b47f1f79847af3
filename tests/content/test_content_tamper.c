/* test_content_tamper.c - what the content layer must refuse (altered,
 * swapped, rolled back, transplanted or cut chunks), what it must not store
 * (holes, plaintext), and its edge cases (last flag, truncate, forget). */
#include "content_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

#define MIB (1024u * 1024u)
#define MARKER "sealfs-plaintext-marker-7c1f"

/* Fills len bytes with the marker repeated. */
static void fill_marker(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)MARKER[i % (sizeof(MARKER) - 1)];
}

static int write_all(struct tenv *env, struct content_file *f, size_t len, uint64_t off)
{
	unsigned char *buf = malloc(len);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	fill_marker(buf, len);
	n = content_write(&env->ctx, f, buf, len, off);
	free(buf);
	return n == (ssize_t)len ? 0 : -1;
}

static ssize_t read_at(struct tenv *env, struct content_file *f, size_t len, uint64_t off)
{
	unsigned char *buf = malloc(len);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = content_read(&env->ctx, f, buf, len, off);
	free(buf);
	return n;
}

/* Path of segment s's cache file. */
static void seg_path(struct tenv *env, const struct content_file *f, size_t s,
		     char path[CACHE_PATH_MAX])
{
	char key[OBJECT_KEY_TEXT_BYTES];

	object_key_text(key, f->segs[s].key);
	cache_path(env->cache, key, path);
}

static int file_rw(const char *path, unsigned char *buf, size_t len, off_t off, bool wr)
{
	int fd = open(path, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = wr ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* A file of 3 full segments, committed; then reloaded through a fresh cache. */
static int setup_file(struct tenv *env, struct content_file *f)
{
	if (content_new(f) < 0 || write_all(env, f, 3 * MIB, 0) < 0 || tenv_commit(env, f) < 0)
		return -1;
	return tenv_reload(env, f);
}

static void test_read_rejects_flipped_byte(struct tenv *env)
{
	struct content_file f;
	char path[CACHE_PATH_MAX];
	size_t sz = chunk_sealed_bytes(env->ctx.suite);
	unsigned char b;

	CHECK_RC(setup_file(env, &f), 0);
	CHECK_RC(read_at(env, &f, 4096, MIB + 5 * 4096), 4096); /* fetched into the cache */
	seg_path(env, &f, 1, path);
	CHECK_RC(file_rw(path, &b, 1, (off_t)(5 * sz + 100), false), 0);
	b ^= 0x01;
	CHECK_RC(file_rw(path, &b, 1, (off_t)(5 * sz + 100), true), 0);
	CHECK_RC(read_at(env, &f, 4096, MIB + 5 * 4096), -EIO);
	/* The bad copy left the cache: the next read fetches the intact store
	 * object again (a repaired store, or a cache file torn by a crash). */
	CHECK(access(path, F_OK) != 0);
	CHECK_RC(read_at(env, &f, 10, MIB + 5 * 4096 + 4000), 10);
	CHECK_RC(read_at(env, &f, 4096, MIB + 6 * 4096), 4096);
	/* Flip it again: a write that must read the bad chunk fails too. */
	CHECK_RC(file_rw(path, &b, 1, (off_t)(5 * sz + 100), false), 0);
	b ^= 0x01;
	CHECK_RC(file_rw(path, &b, 1, (off_t)(5 * sz + 100), true), 0);
	CHECK_RC(content_write(&env->ctx, &f, "x", 1, MIB + 5 * 4096 + 7), -EIO);
	content_release(&f);
	free(f.garbage);
}

static void test_read_rejects_swapped_chunks(struct tenv *env)
{
	struct content_file f;
	char path[CACHE_PATH_MAX];
	size_t sz = chunk_sealed_bytes(env->ctx.suite);
	unsigned char *a = malloc(sz), *b = malloc(sz);

	CHECK_RC(setup_file(env, &f), 0);
	CHECK_RC(read_at(env, &f, 1, 0), 1);
	seg_path(env, &f, 0, path);
	CHECK_RC(file_rw(path, a, sz, (off_t)(2 * sz), false), 0);
	CHECK_RC(file_rw(path, b, sz, (off_t)(3 * sz), false), 0);
	CHECK_RC(file_rw(path, b, sz, (off_t)(2 * sz), true), 0);
	CHECK_RC(file_rw(path, a, sz, (off_t)(3 * sz), true), 0);
	CHECK_RC(read_at(env, &f, 4096, 2 * 4096), -EIO);
	CHECK_RC(read_at(env, &f, 4096, 3 * 4096), 4096); /* fetched again from the store */
	CHECK_RC(read_at(env, &f, 4096, 4 * 4096), 4096);
	content_release(&f);
	free(f.garbage);
	free(a);
	free(b);
}

static int store_get(struct tenv *env, const uint8_t key[16], unsigned char **out, size_t *len)
{
	char kt[OBJECT_KEY_TEXT_BYTES];

	object_key_text(kt, key);
	return backend_get(env->store, kt, 0, 0, out, len);
}

static int store_put(struct tenv *env, const uint8_t key[16], const unsigned char *d, size_t len)
{
	char kt[OBJECT_KEY_TEXT_BYTES];

	object_key_text(kt, key);
	return backend_put(env->store, kt, d, len);
}

static void test_read_rejects_rolled_back_segment(struct tenv *env)
{
	struct content_file f;
	unsigned char *old = NULL;
	size_t old_len = 0;

	CHECK_RC(setup_file(env, &f), 0);
	CHECK_RC(store_get(env, f.segs[1].key, &old, &old_len), 0);
	CHECK_RC(write_all(env, &f, 100, MIB + 4096), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(tenv_store_objects(env), 3); /* the old version is gone */
	CHECK_RC(store_put(env, f.segs[1].key, old, old_len), 0);
	CHECK_RC(tenv_reload(env, &f), 0);
	CHECK_RC(read_at(env, &f, 4096, MIB), -EIO);
	CHECK_RC(read_at(env, &f, 4096, 0), 4096);
	content_release(&f);
	free(f.garbage);
	free(old);
}

static void test_read_rejects_segment_of_other_file(struct tenv *env)
{
	struct content_file f, g;
	unsigned char *other = NULL;
	size_t other_len = 0;

	CHECK_RC(setup_file(env, &f), 0);
	CHECK_RC(content_new(&g), 0);
	CHECK_RC(write_all(env, &g, 3 * MIB, 0), 0);
	CHECK_RC(tenv_commit(env, &g), 0);
	CHECK_RC(store_get(env, g.segs[1].key, &other, &other_len), 0);
	CHECK_RC(store_put(env, f.segs[1].key, other, other_len), 0);
	/* Also the same file's own segment 0 in place of segment 1. */
	free(other);
	other = NULL;
	CHECK_RC(store_get(env, f.segs[0].key, &other, &other_len), 0);
	CHECK_RC(store_put(env, f.segs[2].key, other, other_len), 0);
	CHECK_RC(tenv_reload(env, &f), 0);
	CHECK_RC(read_at(env, &f, 4096, MIB), -EIO);
	CHECK_RC(read_at(env, &f, 4096, 2 * MIB), -EIO);
	CHECK_RC(read_at(env, &f, 4096, 0), 4096);
	content_release(&f);
	content_release(&g);
	free(f.garbage);
	free(g.garbage);
	free(other);
}

static void test_read_rejects_cut_segment(struct tenv *env)
{
	struct content_file f;
	char path[CACHE_PATH_MAX];
	size_t sz = chunk_sealed_bytes(env->ctx.suite);

	CHECK_RC(setup_file(env, &f), 0);
	CHECK_RC(read_at(env, &f, 1, 2 * MIB), 1);
	seg_path(env, &f, 2, path);
	CHECK_RC(truncate(path, (off_t)(255 * sz)), 0);
	CHECK_RC(read_at(env, &f, 4096, 3 * MIB - 4096), -EIO);
	CHECK_RC(read_at(env, &f, 4096, 3 * MIB - 8192), 4096);
	content_release(&f);
	free(f.garbage);
}

/* Appends extra bytes of junk to object key in the store. */
static int store_grow(struct tenv *env, const uint8_t key[16], size_t extra)
{
	unsigned char *d = NULL, *grown;
	size_t len = 0;
	int rc = store_get(env, key, &d, &len);

	grown = rc == 0 ? realloc(d, len + extra) : NULL;
	if (!grown) {
		free(d);
		return rc ? rc : -ENOMEM;
	}
	memset(grown + len, 0x5a, extra);
	rc = store_put(env, key, grown, len + extra);
	free(grown);
	return rc;
}

/* Bounded downloads (backend.h): a segment object longer than the file's
 * authenticated size allows is refused before it reaches the cache: 1 MiB
 * appended to a full segment, and one sealed chunk appended to the only
 * segment of a 2-chunk file (the reads touch only the genuine chunks, so
 * without the bound both would succeed). */
static void test_read_refuses_oversized_segment(struct tenv *env)
{
	struct content_file f, g;
	char path[CACHE_PATH_MAX];

	CHECK_RC(setup_file(env, &f), 0);
	CHECK_RC(store_grow(env, f.segs[1].key, MIB), 0);
	CHECK_RC(read_at(env, &f, 4096, MIB), -EIO);
	seg_path(env, &f, 1, path);
	CHECK(access(path, F_OK) != 0); /* nothing of it kept */
	CHECK_RC(read_at(env, &f, 4096, 0), 4096);
	CHECK_RC(read_at(env, &f, 4096, 2 * MIB), 4096);
	content_release(&f);
	free(f.garbage);

	CHECK_RC(content_new(&g), 0);
	CHECK_RC(write_all(env, &g, 5000, 0), 0);
	CHECK_RC(tenv_commit(env, &g), 0);
	CHECK_RC(tenv_reload(env, &g), 0);
	CHECK_RC(store_grow(env, g.segs[0].key, chunk_sealed_bytes(env->ctx.suite)), 0);
	CHECK_RC(read_at(env, &g, 100, 0), -EIO);
	content_release(&g);
	free(g.garbage);
}

/* A directory entry whose size was cut to a chunk boundary: the new last
 * chunk was sealed as not last, so it must fail. */
static void test_read_rejects_size_cut_by_entry(struct tenv *env)
{
	struct content_file f;
	struct dirobj_entry e = {.type = DIROBJ_FILE};

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, 3 * 4096, 0), 0);
	memcpy(e.id, f.file_id, 16);
	CHECK_RC(content_store(&f, &e), env->ctx.format >= 2 ? -EINVAL : 0); /* not recorded yet */
	free(e.segments);
	e.segments = NULL;
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(content_store(&f, &e), 0);
	content_release(&f);
	CHECK(f.garbage == NULL); /* nothing replaced: no list allocated */
	e.size = 2 * 4096;
	CHECK_RC(content_load(&f, &e), 0);
	CHECK_RC(read_at(env, &f, 4096, 0), 4096);
	CHECK_RC(read_at(env, &f, 4096, 4096), -EIO);
	content_release(&f);
	free(f.garbage);
	e.size = 4 * 4096; /* and grown: the old last chunk was sealed as last */
	CHECK_RC(content_load(&f, &e), 0);
	CHECK_RC(read_at(env, &f, 4096, 2 * 4096), -EIO);
	content_release(&f);
	free(f.garbage);
	free(e.segments);
}

static void test_holes_are_not_stored(struct tenv *env)
{
	const uint64_t far = (4ull << 30) + 123;
	struct content_file f;
	unsigned char buf[64];

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, 10, 7), 0);
	CHECK_RC(write_all(env, &f, sizeof(MARKER), far), 0);
	CHECK_RC(f.size, far + sizeof(MARKER));
	CHECK_RC(tenv_present_segments(&f), 2);
	CHECK_RC(content_truncate(&env->ctx, &f, 5ull << 30), 0);
	CHECK_RC(tenv_present_segments(&f), 2);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(tenv_store_objects(env), 2);
	CHECK_RC(tenv_reload(env, &f), 0);
	CHECK_RC(content_read(&env->ctx, &f, buf, sizeof(buf), far - 32), sizeof(buf));
	CHECK(memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
	CHECK(memcmp(buf + 32, MARKER, sizeof(MARKER) - 1) == 0);
	CHECK_RC(content_read(&env->ctx, &f, buf, sizeof(buf), (5ull << 30) - 10), 10);
	CHECK(memcmp(buf, "\0\0\0\0\0\0\0\0\0\0", 10) == 0);
	CHECK_RC(content_read(&env->ctx, &f, buf, sizeof(buf), 3ull << 30), sizeof(buf));
	CHECK(memcmp(buf, "\0\0\0\0\0\0\0\0\0\0", 10) == 0);
	/* Shrinking drops the far segment into the garbage. */
	CHECK_RC(content_truncate(&env->ctx, &f, 4096), 0);
	CHECK_RC(f.nsegs, 1);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(tenv_store_objects(env), 1);
	content_release(&f);
	free(f.garbage);
}

/* Whether any regular file under dir contains the marker. */
static int dir_has_marker(const char *dir)
{
	char path[CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int found = 0;

	if (!d)
		return -1;
	while (!found && (de = readdir(d)) != NULL) {
		unsigned char *data = NULL;
		size_t len = 0;
		struct stat st;
		FILE *fp;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			found = dir_has_marker(path);
			continue;
		}
		fp = fopen(path, "rb");
		data = malloc((size_t)st.st_size + 1);
		if (fp && data)
			len = fread(data, 1, (size_t)st.st_size, fp);
		if (fp)
			fclose(fp);
		found = memmem(data, len, MARKER, 8) != NULL;
		free(data);
	}
	closedir(d);
	return found;
}

static void test_no_plaintext_in_cache_or_store(struct tenv *env)
{
	struct content_file f;

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, 2 * MIB + 5000, 3000), 0);
	CHECK_RC(content_truncate(&env->ctx, &f, MIB + 100), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(write_all(env, &f, 5000, 10), 0); /* copy on write */
	CHECK_RC(content_sync(&env->ctx, &f), 0);
	CHECK_RC(dir_has_marker(env->root), 0);
	content_release(&f);
	free(f.garbage);
}

static void test_forget_queues_every_segment(struct tenv *env)
{
	struct content_file f;
	struct content_garbage *garbage = NULL;
	char path[CACHE_PATH_MAX];
	size_t n = 0;

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, 2 * MIB, 0), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(write_all(env, &f, 1, 2 * MIB + 10 * 4096), 0); /* a new dirty segment */
	seg_path(env, &f, 2, path);
	CHECK(access(path, F_OK) == 0);
	content_forget(&env->ctx, &f);
	CHECK(access(path, F_OK) < 0); /* dirty cache file removed */
	CHECK_RC(content_commit(&env->ctx, &f, ++env->seq, tenv_upload, env, &garbage, &n), 0);
	CHECK_RC(n, 4); /* segments 0, 1 (both versions: growing resealed it) and 2 */
	content_release(&f);
	free(garbage);
}

static void test_commit_hands_out_dirty_once(struct tenv *env)
{
	struct content_file f;
	struct content_garbage *garbage = NULL;
	size_t n = 99;

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, 2 * MIB, 0), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(tenv_store_objects(env), 2);
	CHECK_RC(content_commit(&env->ctx, &f, ++env->seq, tenv_upload, env, &garbage, &n), 0);
	CHECK_RC(n, 0);
	CHECK(garbage == NULL);
	/* Shrinking a clean last segment copies it on write. */
	CHECK_RC(content_truncate(&env->ctx, &f, MIB + 10), 0);
	CHECK_RC(f.segs[1].dirty, 1);
	CHECK_RC(f.ngarbage, 1);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(tenv_store_objects(env), 2);
	CHECK_RC(tenv_reload(env, &f), 0);
	CHECK_RC(read_at(env, &f, 100, MIB), 10);
	content_release(&f);
	free(f.garbage);
}

static void test_shrink_cuts_dirty_segment(struct tenv *env)
{
	size_t sz = chunk_sealed_bytes(env->ctx.suite);
	char path[CACHE_PATH_MAX];
	struct content_file f;
	struct stat st;

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, MIB + 5, 0), 0);
	CHECK_RC(content_truncate(&env->ctx, &f, 2 * 4096 + 1), 0);
	seg_path(env, &f, 0, path);
	CHECK(stat(path, &st) == 0 && (size_t)st.st_size == 3 * sz);
	CHECK_RC(content_truncate(&env->ctx, &f, 4096), 0);
	CHECK(stat(path, &st) == 0 && (size_t)st.st_size == sz);
	CHECK_RC(read_at(env, &f, 8192, 0), 4096);
	CHECK_RC(f.nsegs, 1);
	content_release(&f);
	free(f.garbage);
}

/* The bound a mount sets (content_fds_bound): CONTENT_FDS_MAX, or
 * CONTENT_FDS_DEFAULT with --cache-size; RLIMIT_NOFILE / 64 when lower, 8 at
 * least. */
static void test_fds_bound(void)
{
	struct rlimit rl, r2;

	CHECK_RC(getrlimit(RLIMIT_NOFILE, &rl), 0);
	r2 = rl;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 64 * CONTENT_FDS_MAX) {
		r2.rlim_cur = 64 * CONTENT_FDS_MAX;
		CHECK_RC(setrlimit(RLIMIT_NOFILE, &r2), 0);
		CHECK_RC(content_fds_bound(false), CONTENT_FDS_MAX);
		CHECK_RC(content_fds_bound(true), CONTENT_FDS_DEFAULT);
	}
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 1024) {
		r2.rlim_cur = 1024;
		CHECK_RC(setrlimit(RLIMIT_NOFILE, &r2), 0);
		CHECK_RC(content_fds_bound(false), 16);
		CHECK_RC(content_fds_bound(true), 16);
	}
	r2.rlim_cur = 100;
	CHECK_RC(setrlimit(RLIMIT_NOFILE, &r2), 0);
	CHECK_RC(content_fds_bound(false), 8);
	CHECK_RC(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* More segments than the bound (CONTENT_FDS_DEFAULT: tenv sets no
 * fds_max): fds are closed and reopened. */
static void test_fds_stay_bounded(struct tenv *env)
{
	const size_t nsegs = CONTENT_FDS_DEFAULT + 8;
	struct content_file f;

	CHECK_RC(content_new(&f), 0);
	for (size_t s = 0; s < nsegs; s++)
		CHECK_RC(write_all(env, &f, 4096, s * MIB + 100), 0);
	CHECK(f.nfds <= CONTENT_FDS_DEFAULT);
	CHECK_RC(content_sync(&env->ctx, &f), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	for (size_t s = 0; s < nsegs; s++)
		CHECK_RC(read_at(env, &f, 4096, s * MIB + 100), 4096);
	CHECK(f.nfds <= CONTENT_FDS_DEFAULT);
	for (size_t s = nsegs; s-- > 0;)
		CHECK_RC(write_all(env, &f, 10, s * MIB), 0);
	CHECK(f.nfds <= CONTENT_FDS_DEFAULT);
	CHECK_RC(content_sync(&env->ctx, &f), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK_RC(tenv_store_objects(env), (long)nsegs);
	CHECK_RC(tenv_reload(env, &f), 0);
	for (size_t s = 0; s < nsegs; s++)
		CHECK_RC(read_at(env, &f, 4196, s * MIB), 4196);
	CHECK_RC(read_at(env, &f, 8192, (nsegs - 1) * MIB), 4196);
	CHECK_RC(content_truncate(&env->ctx, &f, 1ull << 45), -EFBIG);
	CHECK_RC(content_write(&env->ctx, &f, "x", 1, 1ull << 44), -EFBIG);
	content_release(&f);
	free(f.garbage);
}

int main(void)
{
	enum suite_id suites[2];
	size_t n = test_suites(suites);
	void (*tests[])(struct tenv *) = {
	    test_read_rejects_flipped_byte,
	    test_read_rejects_swapped_chunks,
	    test_read_rejects_rolled_back_segment,
	    test_read_rejects_segment_of_other_file,
	    test_read_rejects_cut_segment,
	    test_read_refuses_oversized_segment,
	    test_read_rejects_size_cut_by_entry,
	    test_holes_are_not_stored,
	    test_no_plaintext_in_cache_or_store,
	    test_forget_queues_every_segment,
	    test_commit_hands_out_dirty_once,
	    test_shrink_cuts_dirty_segment,
	    test_fds_stay_bounded,
	};

	for (size_t i = 0; i < 2 * n; i++) {
		for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
			struct tenv env;

			/* Each suite in format 1 (per-file keys) and 2 (per segment). */
			if (tenv_open_format(&env, suites[i % n], 1 + (int)(i / n)) < 0) {
				CHECK(!"tenv_open");
				continue;
			}
			tests[t](&env);
			tenv_close(&env);
		}
	}
	test_fds_bound();
	return check_done("test_content_tamper");
}
