/* history_thin.c - which retained heads the window keeps (docs/FORMAT.md,
 * "Deferred deletion"): the newest head of each minute of the last hour,
 * the newest of each hour for a day, the newest of each day up to the
 * window. Pure: no I/O, no
 * allocation, no globals; must keep at least what the rule says, since a
 * dropped head can never come back. */
#include "history.h"

#define HISTORY_HOUR 3600
#define HISTORY_DAY 86400

/* Floor division: slots of negative times stay distinct and ordered. */
static int64_t history_slot(int64_t t, int64_t g) { return t >= 0 ? t / g : -((-t + g - 1) / g); }

/* Whether the entry at t is the first (newest) seen of its slot of g
 * seconds: entries come newest first. */
static bool history_first(int64_t t, int64_t g, int64_t *last, bool *have)
{
	int64_t slot = history_slot(t, g);
	bool first = !*have || slot != *last;

	*have = true;
	*last = slot;
	return first;
}

void history_thin(const struct histobj_entry *e, size_t n, int64_t now, uint64_t keep,
		  uint32_t slot, bool *kept)
{
	/* The slot of the previous entry at each granularity. */
	int64_t last_min = 0, last_hour = 0, last_day = 0;
	bool have_min = false, have_hour = false, have_day = false;

	for (size_t i = 0; i < n; i++) {
		int64_t t = e[i].time.sec, age = now - t;

		kept[i] = false;
		if (age >= 0 && (uint64_t)age >= keep)
			continue;
		if (age < 0) /* a clock ahead of ours: kept */
			kept[i] = true;
		else if (age < HISTORY_HOUR)
			kept[i] = slot == 0 || history_first(t, slot, &last_min, &have_min);
		else if (age < HISTORY_DAY)
			kept[i] = history_first(t, HISTORY_HOUR, &last_hour, &have_hour);
		else
			kept[i] = history_first(t, HISTORY_DAY, &last_day, &have_day);
	}
}

bool history_meets(const uint64_t *seqs, size_t n, uint64_t c, uint64_t d)
{
	size_t lo = 0, hi = n;

	if (c >= d)
		return false;
	while (lo < hi) { /* the first seq >= c */
		size_t mid = lo + (hi - lo) / 2;
		if (seqs[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && seqs[lo] < d;
}
