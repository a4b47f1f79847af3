/* merge_int.h - what the merge's files share (merge.c: the walk and the
 * output; merge_decide.c: the rules per id; merge_name.c: comparing and
 * copying entries, conflict names). Private to fs/vault/merge*.c. */
#ifndef SEALFS_MERGE_INT_H
#define SEALFS_MERGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merge.h"

enum { MB = 0, ML = 1, MR = 2, MSIDES = 3 };

struct mlink;
struct mlinks;

/* One id met anywhere in the touched part of the three trees. */
struct mnode {
	uint8_t id[OBJECT_ID_BYTES];
	const struct dirobj_entry *e[MSIDES]; /* the entry on each side, or NULL */
	struct mnode *par[MSIDES];	      /* the directory holding e[s] */
	bool loaded[MSIDES];		      /* directories: e[s]'s object was read */
	size_t nent[MSIDES];		      /* and how many entries it holds */
	bool queued;
	/* The decision (merge_decide.c). */
	bool keep;
	bool tentative;			 /* a directory kept only if something stays in it */
	bool rebuild;			 /* a directory whose listing is new */
	bool is_copy;			 /* a conflict copy of `source` */
	struct mnode *source;		 /* copies: the node whose loser version it holds */
	struct mnode *alias;		 /* a directory merged into this one of its name */
	struct mnode *parent;		 /* where it goes */
	const struct dirobj_entry *body; /* attributes and content (for directories: attrs) */
	const struct dirobj_entry *ref;	 /* directories not rebuilt: whose ref */
	const struct dirobj_entry *nm;	 /* whose name (unless `name` is set) */
	char *name;			 /* a conflict name, malloc'ed */
	size_t name_len;
	int side; /* the side whose version this is: tie-breaks and device names */
	/* A name of a file with several names (merge_links.c): its file. */
	struct mlink *link;
	bool noreuse[MSIDES]; /* directories: e[s]'s object had entries rewritten */
	/* Output (merge.c). */
	struct mnode **kids;
	size_t nkids, kcap;
	bool visiting, done;
};

struct mstate {
	const struct merge_input *in;
	struct mnode **slots; /* open addressing by id */
	size_t nslots, nnodes;
	struct mnode **all; /* every node, in creation order */
	size_t nall, allcap;
	struct dirobj **objs; /* loaded objects, owned */
	size_t nobjs, objcap;
	struct mnode *root;
	const struct merge_device *dev[MSIDES];
	size_t nconflicts; /* names given to losers in the last arrange */
	struct mlinks *lk; /* files with several names; NULL: no side has a table */
};

/* merge.c */
struct mnode *mstate_find(struct mstate *st, const uint8_t id[OBJECT_ID_BYTES]);
struct mnode *mstate_add(struct mstate *st, const uint8_t id[OBJECT_ID_BYTES]);
int mstate_expand(struct mstate *st);
int mstate_load_side(struct mstate *st, struct mnode *n, int s);
bool mnode_is_dir(const struct mnode *n);

/* merge_out.c: hangs the kept entries under their directories, settles
 * names (merging two directories of one name: returns 1, the caller runs
 * the rules again), checks every kept entry reaches the root; then emits. */
int merge_arrange(struct mstate *st);
int merge_emit(struct mstate *st, struct merge_result *out);

/* merge_decide.c */
int merge_decide(struct mstate *st);
int merge_decide_root(struct mstate *st);

/* merge_links.c: files with several names (merge.h). init builds st->lk
 * from the tables (none: stays NULL); convert turns side s's names of such
 * files in dir's object into `h` entries of an id per name, moving an `f`
 * entry's body out (links[i] gets entry i's file, or NULL; a new array);
 * touched: whether side s edited the file name node n names; decide merges
 * the records once the names are decided (conflict copies, name counts);
 * emit hands the merged table out; id: the id an entry of node k has. */
int merge_links_init(struct mstate *st);
void merge_links_free(struct mstate *st);
int merge_links_convert(struct mstate *st, struct mnode *dir, int s, struct dirobj *obj,
			struct mlink ***links);
bool merge_links_touched(const struct mstate *st, const struct mnode *n, int s);
int merge_links_decide(struct mstate *st);
int merge_links_emit(struct mstate *st, struct merge_result *out);
const uint8_t *merge_links_id(const struct mnode *k);
/* The mtime a conflict name of k shows: its file's merged one for a name
 * (an `h` entry has none), else its own. */
int64_t merge_links_mtime(const struct mnode *k);

/* merge_name.c */
bool ment_same_ref(const struct dirobj_entry *a, const struct dirobj_entry *b);
bool ment_same_body(const struct dirobj_entry *a, const struct dirobj_entry *b);
bool ment_same_attrs(const struct dirobj_entry *a, const struct dirobj_entry *b);
bool ment_same_name(const struct dirobj_entry *a, const struct dirobj_entry *b);
int ment_cmp_bytes(const struct dirobj_entry *a, const struct dirobj_entry *b);
int ment_copy(struct dirobj_entry *dst, const struct dirobj_entry *src);
/* Whether version a (of side sa) is later than b (of side sb): mtime, then
 * device id, then bytes, then id. Total and independent of the side labels. */
bool ment_later(const struct mstate *st, const struct dirobj_entry *a, int sa,
		const struct dirobj_entry *b, int sb);

#endif
