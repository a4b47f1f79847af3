/* history_int.h - what history.c (the commit's history objects) and
 * history_prune.c (thinning and garbage lists) share. Internal to fs/vault. */
#ifndef SEALFS_HISTORY_INT_H
#define SEALFS_HISTORY_INT_H

#include "history.h"

/* One history page in memory: its reference and its entries (owned). */
struct history_page {
	struct dirobj_ref ref;
	struct histobj_entry *e;
	size_t n;
};

/* The first object of a head's garbage list as this committer sealed it:
 * a commit that supersedes the head (same slot) merges its own triples into
 * a copy of it while it is small, or chains a new object before it. */
struct history_gl {
	bool has;			    /* the head has a garbage list */
	struct dirobj_ref ref;		    /* its first object */
	struct histobj_garbage_item *items; /* that object's triples, sorted by key (owned) */
	size_t n;
	bool has_next;
	struct dirobj_ref next;
	/* That object's JSON text (json_len bytes) and where each triple's
	 * text starts (n + 1 offsets, struct histobj_garbage_text), for the
	 * next commit's encoding to copy; both owned, NULL when not kept. */
	char *json;
	size_t json_len;
	size_t *offs;
};

/* Thinning decided by history_prepare, used by the next history_seal. */
struct history_prep {
	bool ready;
	int64_t now;
	uint64_t *dropped; /* seqs of the dropped heads, ascending */
	size_t ndropped;
	struct histobj_garbage_item *carry; /* still reached or in grace */
	size_t ncarry;
	uint8_t (*dels)[OBJECT_ID_BYTES]; /* no retained head reaches them, grace passed */
	size_t ndels;
	uint8_t (*meta)[OBJECT_ID_BYTES]; /* dropped records and their garbage lists */
	size_t nmeta;
	/* Carried triples no retained head reaches (only their grace keeps
	 * them): also the record's dead entries, for the uploader's grace. */
	struct history_dead *gdead;
	size_t ngdead;
};

struct history {
	struct history_io io;
	uint64_t keep, grace;
	uint32_t slot; /* the first tier's slot, seconds (HISTORY_SLOT; 0: every head) */
	struct history_page *pages; /* newest first */
	size_t npages;
	/* The head the next commit archives: its JSON and entry fields. */
	char *prev_json;
	size_t prev_len;
	uint64_t prev_seq;
	struct dirobj_time prev_time;
	uint8_t prev_dev[OBJECT_ID_BYTES];
	/* The previous head was sealed by this history (not the head opened):
	 * its garbage list's first object is prev_gl, and a commit in the same
	 * slot may supersede it. */
	bool prev_own;
	struct history_gl prev_gl;
	int64_t next_thin; /* commit time from which thinning is due */
	struct history_prep prep;
	/* Sealed by history_seal, adopted by history_done. */
	struct history_page *new_pages;
	size_t new_npages, new_upto; /* pages [0, new_upto) are replaced */
	struct history_page *adopt;  /* room for the pages after the commit */
	struct history_dead *smeta;  /* pages this seal replaced (created: the page's c) */
	size_t nsmeta;
	struct history_gl pend_gl; /* the garbage list's first object this seal made */
	char *pend_json;
	size_t pend_len;
	uint64_t pend_seq;
	struct dirobj_time pend_time;
	uint8_t pend_dev[OBJECT_ID_BYTES];
	int64_t pend_now;
};

void history_pages_free(struct history_page *p, size_t n);
/* Appends a sealed object (data owned, freed on failure). */
int history_out_add(struct history_out *o, const struct dirobj_ref *ref, unsigned char *data,
		    size_t len);

/* history_prune.c */
void history_prep_clear(struct history *h);
/* 1 + the index of the oldest page holding a dropped head; 0: none. */
size_t history_prep_oldest_page(const struct history *h);
bool history_prep_drops(const struct history *h, uint64_t seq);
void history_prep_meta_reset(struct history *h);
int history_prep_meta(struct history *h, const struct dirobj_ref *ref);
/* Seals the commit's garbage list (g, what thinning carries, the history's
 * own replaced objects; merged into the superseded head's list when
 * supersede) and sets next->garbage; out->dead gets what no retained head
 * reaches (docs/FORMAT.md "Deferred deletion"). */
int history_garbage_seal(struct history *h, struct dirobj_head *next,
			 const struct history_garbage *g, size_t n, bool supersede,
			 struct history_out *out);
void history_gl_clear(struct history_gl *gl);
/* The seqs of the heads retained after this commit's thinning (history
 * entries not dropped), ascending; *seqs new. 0 or -ENOMEM. */
int history_retained(const struct history *h, uint64_t **seqs, size_t *n);
int history_prep_deletes(const struct history *h, struct history_out *out);
/* A commit holding the prepared thinning is durable. */
void history_prep_done(struct history *h);

#endif
