/* history_thin.c - which retained heads the window keeps (docs/FORMAT.md,
 * "Deferred deletion"): every head of the last hour, the newest of each hour
 * for a day, the newest of each day up to the window. Pure: no I/O, no
 * allocation, no globals; must keep at least what the rule says, since a
 * dropped head can never come back. */
#include "history.h"

#define HISTORY_HOUR 3600
#define HISTORY_DAY 86400

/* Floor division: slots of negative times stay distinct and ordered. */
static int64_t history_slot(int64_t t, int64_t g) { return t >= 0 ? t / g : -((-t + g - 1) / g); }

void history_thin(const struct histobj_entry *e, size_t n, int64_t now, uint64_t keep, bool *kept)
{
	/* The newest entry seen so far in the slot of the previous entry at
	 * each granularity: entries come newest first, so the first of a slot
	 * is its newest. */
	int64_t last_hour = 0, last_day = 0;
	bool have_hour = false, have_day = false;

	for (size_t i = 0; i < n; i++) {
		int64_t t = e[i].time.sec, age = now - t;
		int64_t g = age < HISTORY_DAY ? HISTORY_HOUR : HISTORY_DAY;
		int64_t slot = history_slot(t, g);
		bool first;

		kept[i] = false;
		if (age >= 0 && (uint64_t)age >= keep)
			continue;
		if (age < HISTORY_HOUR) { /* also a clock ahead of ours: kept */
			kept[i] = true;
			continue;
		}
		if (g == HISTORY_HOUR) {
			first = !have_hour || slot != last_hour;
			have_hour = true;
			last_hour = slot;
		} else {
			first = !have_day || slot != last_day;
			have_day = true;
			last_day = slot;
		}
		kept[i] = first;
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
