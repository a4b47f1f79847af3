/* test_cache.c - the ciphertext cache directory: layout and modes, the lock,
 * tmp cleanup, clear errors, fetching from a real local store. */
#include "content_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

static bool mode_is(const char *path, mode_t mode)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & 07777) == mode;
}

static void test_open_creates_private_dirs(struct tenv *env)
{
	char dir[400], path[CACHE_PATH_MAX], err[256];
	struct cache *c = NULL;

	snprintf(dir, sizeof(dir), "%s/a/b/cache/", env->root);
	CHECK_RC(cache_open(&c, dir, env->store, err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/a/b/cache", env->root);
	CHECK(mode_is(dir, 0700));
	snprintf(path, sizeof(path), "%s/o", dir);
	CHECK(mode_is(path, 0700));
	snprintf(path, sizeof(path), "%s/tmp", dir);
	CHECK(mode_is(path, 0700));
	snprintf(path, sizeof(path), "%s/lock", dir);
	CHECK(access(path, F_OK) == 0);
	cache_path(c, "o/ab/abcd", path);
	CHECK(strcmp(path + strlen(dir), "/o/ab/abcd") == 0);
	cache_close(c);
}

static void test_second_open_is_busy(struct tenv *env)
{
	struct cache *c = NULL;
	char err[256] = "";

	CHECK_RC(cache_open(&c, env->cache_dir, env->store, err, sizeof(err)), -EBUSY);
	CHECK(c == NULL);
	CHECK(strstr(err, "is in use by another mount") != NULL);
	CHECK(strstr(err, env->cache_dir) != NULL);
	cache_close(env->cache);
	env->cache = NULL;
	CHECK_RC(cache_open(&c, env->cache_dir, env->store, err, sizeof(err)), 0);
	env->cache = c;
	env->ctx.cache = c;
}

static void test_open_cleans_tmp(struct tenv *env)
{
	char path[CACHE_PATH_MAX], err[256];
	int fd = cache_tmp_create(env->cache, path);

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(strstr(path, "/tmp/") != NULL);
	cache_close(env->cache);
	env->cache = NULL;
	CHECK_RC(cache_open(&env->cache, env->cache_dir, env->store, err, sizeof(err)), 0);
	CHECK(access(path, F_OK) < 0);
	env->ctx.cache = env->cache;
}

/* cache_open as an unprivileged user (when run as root) must fail with
 * -EACCES and say so; returns 0 when it did, 3 when uid 65534 does not exist
 * here (a user namespace that does not map it). */
static int open_unwritable(const char *dir)
{
	struct cache *c = NULL;
	char err[256] = "";
	int rc;

	if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0)
		return 3;
	rc = cache_open(&c, dir, NULL, err, sizeof(err));
	if (rc != -EACCES || !strstr(err, "permission denied") || !strstr(err, dir)) {
		fprintf(stderr, "cache_open('%s') = %d: %s\n", dir, rc, err);
		return 1;
	}
	return 0;
}

static void test_unwritable_dir_is_refused(struct tenv *env)
{
	const char *names[] = {"ro/cache", "ro"}; /* missing under it; existing */
	char dir[400];

	snprintf(dir, sizeof(dir), "%s/ro", env->root);
	CHECK_RC(mkdir(dir, 0555), 0);
	CHECK_RC(chmod(env->root, 0755), 0);
	for (int i = 0; i < 2; i++) {
		int status = -1;
		pid_t pid = fork();

		snprintf(dir, sizeof(dir), "%s/%s", env->root, names[i]);
		if (pid == 0)
			_exit(open_unwritable(dir));
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
			fprintf(stderr, "skipping the unwritable-dir check: cannot switch to "
					"uid 65534 here\n");
			break;
		}
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_RC(chmod(env->root, 0700), 0);
}

static void test_path_under_file_is_refused(struct tenv *env)
{
	char file[400], dir[500], err[256] = "";
	struct cache *c = NULL;
	int fd;

	snprintf(file, sizeof(file), "%s/plain", env->root);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(dir, sizeof(dir), "%s/cache", file);
	CHECK_RC(cache_open(&c, dir, env->store, err, sizeof(err)), -ENOTDIR);
	CHECK(strstr(err, "cannot create cache") != NULL);
}

static void test_object_key_text(void)
{
	uint8_t key[16];
	char text[OBJECT_KEY_TEXT_BYTES];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)(0xa0 + i);
	object_key_text(text, key);
	CHECK(strcmp(text, "o/a0/a0a1a2a3a4a5a6a7a8a9aaabacadaeaf") == 0);
}

static void test_objects_come_from_store(struct tenv *env)
{
	const char *key = "o/5e/5e000000000000000000000000000001";
	unsigned char buf[100], *data = NULL;
	char path[CACHE_PATH_MAX];
	size_t len = 0;
	int fd;

	memset(buf, 0x5e, sizeof(buf));
	CHECK_RC(backend_put(env->store, key, buf, sizeof(buf)), 0);
	cache_path(env->cache, key, path);
	CHECK(access(path, F_OK) < 0);
	fd = cache_open_object(env->cache, key, BACKEND_NO_MAX);
	CHECK(fd >= 0);
	CHECK_RC(pread(fd, buf, sizeof(buf), 0), sizeof(buf));
	CHECK(buf[0] == 0x5e && buf[99] == 0x5e);
	close(fd);
	CHECK(access(path, F_OK) == 0);
	CHECK_RC(backend_del(env->store, key), 0);
	CHECK_RC(cache_read_object(env->cache, key, BACKEND_NO_MAX, &data, &len),
		 0); /* now from the cache */
	CHECK_RC(len, sizeof(buf));
	free(data);
	CHECK_RC(cache_drop_object(env->cache, key), 0);
	CHECK_RC(cache_drop_object(env->cache, key), 0);
	CHECK_RC(cache_open_object(env->cache, key, BACKEND_NO_MAX), -ENOENT);
	CHECK_RC(cache_read_object(env->cache, key, BACKEND_NO_MAX, &data, &len), -ENOENT);
	CHECK_RC(cache_write_object(env->cache, "o/77/77aa", "abc", 3), 0);
	CHECK_RC(cache_read_object(env->cache, "o/77/77aa", BACKEND_NO_MAX, &data, &len), 0);
	CHECK(len == 3 && memcmp(data, "abc", 3) == 0);
	free(data);
}

struct fetcher {
	struct cache *cache;
	const char *key;
	int rc;
};

static void *fetch_thread(void *arg)
{
	struct fetcher *ft = arg;
	int fd = cache_open_object(ft->cache, ft->key, BACKEND_NO_MAX);

	ft->rc = fd < 0 ? fd : 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_concurrent_fetches_agree(struct tenv *env)
{
	static unsigned char big[1 << 20];
	char key[OBJECT_KEY_TEXT_BYTES];
	struct fetcher ft[4];
	pthread_t th[4];
	uint8_t id[16];

	randombytes_buf(big, sizeof(big));
	for (int round = 0; round < 5; round++) {
		randombytes_buf(id, sizeof(id));
		object_key_text(key, id);
		CHECK_RC(backend_put(env->store, key, big, sizeof(big)), 0);
		for (int i = 0; i < 4; i++) {
			ft[i] = (struct fetcher){env->cache, key, -1};
			pthread_create(&th[i], NULL, fetch_thread, &ft[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_RC(ft[i].rc, 0);
		}
	}
}

int main(void)
{
	struct tenv env;

	if (tenv_open(&env, SUITE_XCHACHA20POLY1305) < 0) {
		fprintf(stderr, "FAIL tenv_open\n");
		return 1;
	}
	test_object_key_text();
	test_open_creates_private_dirs(&env);
	test_second_open_is_busy(&env);
	test_open_cleans_tmp(&env);
	test_unwritable_dir_is_refused(&env);
	test_path_under_file_is_refused(&env);
	test_objects_come_from_store(&env);
	test_concurrent_fetches_agree(&env);
	tenv_close(&env);
	return check_done("test_cache");
}
