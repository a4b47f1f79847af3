/* s3_creds.c - credential sets shared by reference and the provider that
 * refreshes them before they expire. Must never print a credential, keep a
 * secret outside sodium_malloc'ed memory, or hand out a set it knows has
 * expired. */
#include "s3_creds.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct s3_creds_provider {
	const struct s3_config *cfg;
	unsigned margin_s;
	pthread_mutex_t lock; /* protects cur and stale; held across a fetch */
	struct s3_creds *cur;
	int stale; /* the server refused cur */
};

static int clean(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static char *secret_copy(const char *s)
{
	size_t n = strlen(s);
	char *p = sodium_malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

int s3_creds_new(struct s3_creds **out, const char *access_key, const char *secret_key,
		 const char *token, time_t expires)
{
	*out = NULL;
	if (sodium_init() < 0)
		return -ENOMEM;
	if (!clean(access_key) || !clean(secret_key) || (token && !clean(token)))
		return -EINVAL;
	struct s3_creds *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->refs = 1;
	c->expires = expires;
	c->access_key = strdup(access_key);
	c->secret_key = secret_copy(secret_key);
	c->session_token = token ? secret_copy(token) : NULL;
	if (!c->access_key || !c->secret_key || (token && !c->session_token)) {
		s3_creds_put(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void s3_creds_put(struct s3_creds *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(c->access_key);
	sodium_free(c->secret_key); /* wipes */
	sodium_free(c->session_token);
	free(c);
}

int s3_creds_provider_new(struct s3_creds_provider **out, const struct s3_config *cfg,
			  unsigned margin_s)
{
	struct s3_creds_provider *p = calloc(1, sizeof *p);
	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->margin_s = margin_s;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

/* Whether c can be used now (and for the margin when fresh is set). */
static int usable(const struct s3_creds_provider *p, const struct s3_creds *c, int fresh)
{
	time_t now = time(NULL);
	if (!c)
		return 0;
	if (c->expires == 0)
		return 1;
	return fresh ? now + (time_t)p->margin_s < c->expires : now < c->expires;
}

static int refresh(struct s3_creds_provider *p, char *err, size_t err_size)
{
	struct s3_creds *n = NULL;
	int r;
	if (p->cfg->src.kind == S3_CREDS_STATIC)
		r = s3_creds_new(&n, p->cfg->access_key, p->cfg->secret_key, p->cfg->session_token,
				 0);
	else
		r = s3_creds_fetch(&n, p->cfg, err, err_size);
	if (r < 0)
		return r;
	s3_creds_put(p->cur);
	p->cur = n;
	p->stale = 0;
	return 0;
}

int s3_creds_acquire(struct s3_creds_provider *p, struct s3_creds **out, char *err, size_t err_size)
{
	int r = 0;
	*out = NULL;
	pthread_mutex_lock(&p->lock);
	if (!p->cur || p->stale || !usable(p, p->cur, 1)) {
		r = refresh(p, err, err_size);
		if (r < 0 && !p->stale && usable(p, p->cur, 0))
			r = 0; /* not expired yet: try again at the next request */
	}
	if (r == 0) {
		__atomic_add_fetch(&p->cur->refs, 1, __ATOMIC_ACQ_REL);
		*out = p->cur;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int s3_creds_invalidate(struct s3_creds_provider *p, const struct s3_creds *c)
{
	if (p->cfg->src.kind == S3_CREDS_STATIC)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (p->cur == c)
		p->stale = 1;
	pthread_mutex_unlock(&p->lock);
	return 1;
}

static int relock_secret(const char *s)
{
	if (s && sodium_mlock((void *)s, strlen(s) + 1) != 0)
		return errno ? errno : ENOMEM;
	return 0;
}

int s3_creds_provider_relock(struct s3_creds_provider *p)
{
	int a = 0, b = 0;
	pthread_mutex_lock(&p->lock);
	if (p->cur) {
		a = relock_secret(p->cur->secret_key);
		b = relock_secret(p->cur->session_token);
	}
	pthread_mutex_unlock(&p->lock);
	return a ? a : b;
}

void s3_creds_provider_free(struct s3_creds_provider *p)
{
	if (!p)
		return;
	s3_creds_put(p->cur);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
