/* The engine's timing wheel: levels, the hint cursor, deferred entries and
 * buried level-1 entries behind engine.h (engine_heap.c is the same contract
 * in its plainest form).  Knows nothing of what timers are for. */
#include "engine_impl.h"

#include <stddef.h>
#include <stdlib.h>

#include "../core/hw.h"

/* enqueue() stores a level-1 entry as four words: when, seq, t,
 * owner | cls << 32 (little-endian: owner in the low half). */
_Static_assert(sizeof(struct sim_ent) == 32 && offsetof(struct sim_ent, t) == 16 &&
		       offsetof(struct sim_ent, owner) == 24 && offsetof(struct sim_ent, cls) == 28,
	       "struct sim_ent layout");

#define WMASK (SIM_WHEEL_SIZE - 1)

int sim_engine_init(struct sim_engine *e, size_t capacity_hint)
{
	*e = (struct sim_engine){0};
	/* The heap holds about a bucket's worth of events; it grows if not. */
	e->cap = capacity_hint > 256 ? 256 : capacity_hint > 16 ? (uint32_t)capacity_hint : 16;
	e->heap = malloc(sizeof(*e->heap) * e->cap);
	e->l0 = calloc(2 * (size_t)SIM_WHEEL_SIZE, sizeof(*e->l0));
	if (!e->heap || !e->l0) {
		sim_engine_free(e);
		return SIM_ERR_NOMEM;
	}
	e->l1 = e->l0 + SIM_WHEEL_SIZE;
	e->shift = SIM_BUCKET_SHIFT;
	return 0;
}

void sim_engine_expect(struct sim_engine *e, double timers_per_s)
{
	if (e->seq || e->ext)
		return; /* timers are armed: their buckets stay as they are */
	/* The widest bucket that holds at most four entries on average;
	 * never narrower than the default (a fast run keeps its packets'
	 * 100 ms in level 0) nor wider than 2^24 ns (17 ms buckets: level 0
	 * spans 69 s, level 1 78 h). */
	unsigned shift = SIM_BUCKET_SHIFT;
	while (shift < SIM_BUCKET_SHIFT_MAX &&
	       timers_per_s * (double)(1ull << (shift + 1)) <= 4e9)
		shift++;
	e->shift = (uint8_t)shift;
}

void sim_engine_free(struct sim_engine *e)
{
	for (uint32_t i = 0; e->l0 && i < 2 * SIM_WHEEL_SIZE; i++)
		free(e->l0[i].v);
	free(e->far.v);
	free(e->heap);
	free(e->l0);
	*e = (struct sim_engine){0};
}

/* ---- the heap: entries of the current bucket and before ---- */

static inline bool before(const struct sim_ent *a, const struct sim_ent *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* A 4-ary heap: half the depth of a binary one, and the four children of
 * a node share one or two cache lines. */
#define ARITY 4

static void sift_up(struct sim_engine *e, uint32_t i, struct sim_ent ent)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / ARITY;
		if (!before(&ent, &e->heap[parent]))
			break;
		e->heap[i] = e->heap[parent];
		i = parent;
	}
	e->heap[i] = ent;
}

static void sift_down(struct sim_engine *e, uint32_t i, struct sim_ent ent)
{
	for (;;) {
		uint32_t first = ARITY * i + 1, c = first;
		if (first >= e->hlen)
			break;
		uint32_t last = first + ARITY < e->hlen ? first + ARITY : e->hlen;
		for (uint32_t k = first + 1; k < last; k++)
			if (before(&e->heap[k], &e->heap[c]))
				c = k;
		if (!before(&e->heap[c], &ent))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	e->heap[i] = ent;
}

/* A bucket of a few entries is not heapified: it is sorted, latest
 * first, and popped from the end (a bucket holds a few entries, and
 * heapifying and sifting so few costs more than sorting them).  Figures:
 * docs/performance.md.
 * A sorted array that grows past SIM_SORTED_MAX becomes a heap again. */
#ifndef SIM_SORTED_MAX
#define SIM_SORTED_MAX 16
#endif

static inline struct sim_ent *top(struct sim_engine *e)
{
	return &e->heap[e->sorted ? e->hlen - 1 : 0];
}

static void pop_top(struct sim_engine *e)
{
	if (e->sorted) {
		e->hlen--;
		return;
	}
	struct sim_ent last = e->heap[--e->hlen];
	if (e->hlen)
		sift_down(e, 0, last);
}

static int heap_push(struct sim_engine *e, struct sim_ent ent)
{
	if (e->hlen == e->cap) {
		uint32_t ncap = e->cap ? e->cap * 2 : 16;
		struct sim_ent *n = realloc(e->heap, sizeof(*n) * ncap);
		if (!n)
			return SIM_ERR_NOMEM;
		e->heap = n;
		e->cap = ncap;
	}
	if (e->sorted && e->hlen < SIM_SORTED_MAX) {
		uint32_t i = e->hlen++;
		for (; i > 0 && before(&e->heap[i - 1], &ent); i--)
			e->heap[i] = e->heap[i - 1];
		e->heap[i] = ent;
		return 0;
	}
	if (e->sorted) {
		/* Earliest first is a valid heap. */
		for (uint32_t i = 0, j = e->hlen - 1; i < j; i++, j--) {
			struct sim_ent x = e->heap[i];
			e->heap[i] = e->heap[j];
			e->heap[j] = x;
		}
		e->sorted = false;
	}
	sift_up(e, e->hlen++, ent);
	return 0;
}

/* ---- the wheel ---- */

static SIM_NOINLINE int grow(struct sim_bucket *b, uint32_t first)
{
	uint32_t ncap = b->cap ? 2 * b->cap : first > 16 ? first : 16;
	struct sim_ent *v = realloc(b->v, sizeof(*v) * ncap);
	if (!v)
		return SIM_ERR_NOMEM;
	b->v = v;
	b->cap = ncap;
	return 0;
}

static inline int push(struct sim_bucket *b, const struct sim_ent *ent, uint32_t first)
{
	if (b->n == b->cap && grow(b, first) < 0)
		return SIM_ERR_NOMEM;
	b->v[b->n++] = *ent;
	return 0;
}

static inline void set_bit(uint64_t *bm, uint32_t i)
{
	bm[i / 64] |= 1ull << (i % 64);
}

static inline void clear_bit(uint64_t *bm, uint32_t i)
{
	bm[i / 64] &= ~(1ull << (i % 64));
}

/* First set bit at or after i, or -1. */
static int next_bit(const uint64_t *bm, uint32_t i)
{
	uint32_t w = i / 64;
	uint64_t word = bm[w] & (~0ull << (i % 64));

	for (;;) {
		if (word)
			return (int)(w * 64 + (uint32_t)__builtin_ctzll(word));
		if (++w == SIM_WHEEL_SIZE / 64)
			return -1;
		word = bm[w];
	}
}

/* Start fetching what an entry's timer will touch when it fires: the
 * timer's line (is the entry live?), and through the world's hint what
 * the event will read; without a hint, the timer's next line too (a
 * packet's timer is followed by the packet and its bytes). */
static inline void hint(const struct sim_engine *e, const struct sim_ent *ent)
{
	if (!SIM_HINTS)
		return;
	SIM_PREFETCH(ent->t);
	if (e->hint && ent->owner != SIM_NO_OWNER)
		e->hint(e->hint_ud, ent->owner, ent->cls, ent->t);
	else
		SIM_PREFETCH((const char *)ent->t + 64);
}

/* Put an entry where it waits: the heap for the current bucket and
 * before, else the level that covers its bucket.  An entry that lands
 * behind the hint cursor is hinted now.  The rare cases (the heap, the far
 * bucket, a hint, a bucket that must grow) are out of line, so the common
 * one, an append to a wheel bucket, stays a few instructions with no
 * registers to save. */
static SIM_NOINLINE int enqueue_slow(struct sim_engine *e, sim_time when,
						  uint64_t seq, struct sim_timer *t,
						  uint32_t owner, uint8_t cls, uint32_t *l1_at)
{
	const struct sim_ent entry = {when, seq, t, owner, cls}, *ent = &entry;
	uint64_t b = when >> e->shift;

	if (b <= e->cur) {
		hint(e, ent);
		e->lead++;
		return heap_push(e, *ent);
	}
	if (b - e->cur < SIM_WHEEL_SIZE) {
		if (b < e->hb) {
			hint(e, ent);
			e->lead++;
		}
		set_bit(e->bm0, (uint32_t)(b & WMASK));
		return push(&e->l0[b & WMASK], ent, 16);
	}
	uint64_t blk = b >> SIM_WHEEL_BITS;
	if (blk - (e->cur >> SIM_WHEEL_BITS) < SIM_WHEEL_SIZE) {
		set_bit(e->bm1, (uint32_t)(blk & WMASK));
		/* A level-1 bucket starts out as large as the last one
		 * brought down (a steady load fills each about alike),
		 * rather than doubling its way up from 16 each time. */
		struct sim_bucket *b1 = &e->l1[blk & WMASK];
		if (l1_at)
			*l1_at = b1->n;
		return push(b1, ent, e->l1_last);
	}
	return push(&e->far, ent, 16);
}

/* The entry comes as its fields and is written field by field: built as
 * a struct on the stack and copied, it is reloaded as vectors that cannot
 * be store-forwarded and wait for every earlier store. */
static inline __attribute__((always_inline)) int enqueue(struct sim_engine *e, sim_time when,
							   uint64_t seq, struct sim_timer *t,
							   uint32_t owner, uint8_t cls,
							   uint32_t *l1_at)
{
	uint64_t b = when >> e->shift;
	struct sim_bucket *bk;
	uint64_t *bm;
	uint32_t bit;

	if (b >= e->hb && b > e->cur && b - e->cur < SIM_WHEEL_SIZE) {
		bk = &e->l0[b & WMASK];
		bm = e->bm0;
		bit = (uint32_t)(b & WMASK);
	} else if (b > e->cur && (b >> SIM_WHEEL_BITS) - (e->cur >> SIM_WHEEL_BITS) - 1 <
					 SIM_WHEEL_SIZE - 1) {
		/* Level 1: a later block of level-0 buckets, not the far one. */
		bk = &e->l1[(b >> SIM_WHEEL_BITS) & WMASK];
		bm = e->bm1;
		bit = (uint32_t)((b >> SIM_WHEEL_BITS) & WMASK);
	} else {
		return enqueue_slow(e, when, seq, t, owner, cls, l1_at);
	}
	if (SIM_UNLIKELY(bk->n == bk->cap))
		return enqueue_slow(e, when, seq, t, owner, cls, l1_at);
	set_bit(bm, bit);
	struct sim_ent *v = &bk->v[bk->n++];
	if (bm == e->bm1) {
		if (l1_at)
			*l1_at = bk->n - 1;
		/* A level-1 entry is read again in 0.27 s to 18 min, when its
		 * bucket comes down, long after it would have left the cache:
		 * written around the cache (non-temporal), it neither waits
		 * for its line to be read in first nor pushes out the
		 * endpoints' lines.  The bytes are the same (hw.h). */
		uint64_t *q = (uint64_t *)(void *)v;
		sim_store_nt64(q, (uint64_t)when);
		sim_store_nt64(q + 1, seq);
		sim_store_nt64(q + 2, (uint64_t)(uintptr_t)t);
		sim_store_nt64(q + 3, (uint64_t)owner | (uint64_t)cls << 32);
		return 0;
	}
	v->when = when;
	v->seq = seq;
	v->t = t;
	v->owner = owner;
	v->cls = cls;
	SIM_PREFETCH_W(v + 2); /* the line the bucket's next append after this one writes */
	return 0;
}

/* Re-place a bucket's entries and empty it; timers are not read, stale
 * entries go along and are dropped at the top of the heap.  Out of memory,
 * e->err is set and the run stops (the entry is lost). */
static void requeue(struct sim_engine *e, struct sim_bucket *bk)
{
	uint32_t n = bk->n;

	bk->n = 0; /* the far bucket refills itself in place: writes trail reads */
	for (uint32_t i = 0; i < n; i++) {
		const struct sim_ent *x = &bk->v[i];
		if (!x->t)
			continue; /* buried: cancelled while it waited here */
		if (enqueue(e, x->when, x->seq, x->t, x->owner, x->cls, NULL) < 0) {
			e->err = SIM_ERR_NOMEM;
			e->stop = true;
		}
	}
}

/* Software pipelining: the hint cursor walks the level-0 buckets after
 * the current one, entry by entry, keeping SIM_HINT_LEAD entries hinted
 * ahead of the one popped.  Buckets run in order, and a bucket's entries
 * were mostly armed in the order they fire, so the entries hinted are
 * about the next ones to fire.  One hint per pop keeps a steady stream of
 * fetches where hinting a whole bucket at once came in bursts; with the
 * world's endpoints stored in firing order the stream is nearly
 * sequential.  The lead was chosen by measurement (docs/performance.md). */
#ifndef SIM_HINT_LEAD
#define SIM_HINT_LEAD 16
#endif

/* Move the cursor to the next non-empty level-0 bucket of the current
 * block (the next block's entries are hinted as its buckets are taken),
 * and start fetching that bucket's successor's first entries.  False when
 * there is none. */
static SIM_NOINLINE bool cursor_next(struct sim_engine *e)
{
	uint32_t from = (uint32_t)((e->hb > e->cur ? e->hb : e->cur) & WMASK) + 1;
	int q = from < SIM_WHEEL_SIZE ? next_bit(e->bm0, from) : -1;
	if (q < 0)
		return false;
	e->hb = (e->cur & ~(uint64_t)WMASK) + (uint64_t)q;
	e->hi = 0;
	e->hbk = &e->l0[q];
	/* Bucket headers further on, four to a line: at a million endpoints
	 * the one read below for q2 had mostly left the caches. */
	SIM_PREFETCH(&e->l0[(q + 16) & WMASK]);
	int q2 = q + 1 < (int)SIM_WHEEL_SIZE ? next_bit(e->bm0, (uint32_t)q + 1) : -1;
	if (q2 >= 0) {
		SIM_PREFETCH(e->l0[q2].v);
		SIM_PREFETCH((const char *)e->l0[q2].v + 64);
	}
	return true;
}

static inline void hint_ahead(struct sim_engine *e)
{
	while (e->lead < SIM_HINT_LEAD) {
		const struct sim_bucket *bk = e->hbk;
		if (bk && e->hi < bk->n) {
			/* The entries themselves were written up to a second
			 * ago: fetch them a few ahead of reading them. */
			if (e->hi + 4 < bk->n)
				SIM_PREFETCH(&bk->v[e->hi + 4]);
			hint(e, &bk->v[e->hi++]);
			e->lead++;
		} else if (!cursor_next(e)) {
			return;
		}
	}
}

static inline void pop_hinted(struct sim_engine *e)
{
	pop_top(e);
	e->lead -= e->lead > 0;
	hint_ahead(e);
}

/* Bucket cur becomes the heap.  The heap is empty when the wheel moves
 * on, so the two arrays trade places and the entries are heapified in
 * place (Floyd: under two comparisons an entry) instead of being pushed
 * one by one.  Keys (time, sequence) are unique, so any heap of them
 * pops in the one order.  Entries the cursor has not reached are hinted
 * now. */
static void take(struct sim_engine *e, struct sim_bucket *bk)
{
	struct sim_ent *v = e->heap;
	uint32_t cap = e->cap;
	/* Entries of this bucket the cursor has hinted already. */
	uint32_t done = e->hb == e->cur ? e->hi : e->hb > e->cur ? bk->n : 0;

	if (e->hb <= e->cur) {
		e->hb = e->cur; /* the cursor goes on from here */
		e->hi = 0;
		e->hbk = NULL;
	}
	if (e->hlen || !bk->v) {
		/* Entries came straight down from level 1 into the heap (or
		 * the bucket could not grow): merge the slow way.  Entering
		 * the heap, every entry is hinted and counted again. */
		e->lead -= done < e->lead ? done : e->lead;
		requeue(e, bk);
		return;
	}
	for (uint32_t i = done; i < bk->n; i++)
		hint(e, &bk->v[i]);
	e->lead += bk->n - done;
	e->heap = bk->v;
	e->cap = bk->cap;
	e->hlen = bk->n;
	*bk = (struct sim_bucket){v, 0, cap};
	e->sorted = e->hlen <= SIM_SORTED_MAX;
	if (e->sorted) {
		/* Insertion sort, latest first. */
		for (uint32_t j = 1; j < e->hlen; j++) {
			struct sim_ent x = e->heap[j];
			uint32_t i = j;
			for (; i > 0 && before(&e->heap[i - 1], &x); i--)
				e->heap[i] = e->heap[i - 1];
			e->heap[i] = x;
		}
		return;
	}
	for (uint32_t i = e->hlen > 1 ? (e->hlen - 2) / ARITY + 1 : 0; i-- > 0;)
		sift_down(e, i, e->heap[i]);
}

static inline bool live(const struct sim_ent *ent)
{
	return ent->t->slot && ent->t->seq == ent->seq;
}

/* Bring the earliest live entry to the top of the heap, moving the wheel
 * on as needed.  Returns false when no timer is armed. */
static SIM_ALWAYS_INLINE bool refill(struct sim_engine *e)
{
	for (;;) {
		while (e->hlen) {
			if (live(top(e)))
				return true;
			pop_hinted(e); /* cancelled or re-armed since */
		}
		if (e->len == 0)
			return false;
		uint32_t from = (uint32_t)(e->cur & WMASK) + 1;
		int p = from < SIM_WHEEL_SIZE ? next_bit(e->bm0, from) : -1;
		if (p >= 0) {
			e->cur = (e->cur & ~(uint64_t)WMASK) + (uint64_t)p;
		} else {
			/* Into the next block of 4,096 buckets: its level-1
			 * bucket comes down, and every 18 min the far one is
			 * looked at. */
			e->cur = (e->cur | WMASK) + 1;
			uint64_t blk = e->cur >> SIM_WHEEL_BITS;
			struct sim_bucket *b1 = &e->l1[blk & WMASK];
			clear_bit(e->bm1, (uint32_t)(blk & WMASK));
			e->l1_last = b1->n + b1->n / 8;
			requeue(e, b1);
			/* A level-1 bucket comes round again only after
			 * 18 min: give its memory back (level-0 ones are
			 * reused every 0.27 s and keep theirs). */
			free(b1->v);
			*b1 = (struct sim_bucket){0};
			if ((blk & WMASK) == 0)
				requeue(e, &e->far);
			p = 0;
		}
		clear_bit(e->bm0, (uint32_t)p);
		take(e, &e->l0[p]);
		hint_ahead(e);
	}
}

/* Write the entry sim_timer_arm_soon left, if any (its timer may have
 * been cancelled since: then nothing is left to write). */
static inline void soon_flush(struct sim_engine *e)
{
	struct sim_timer *t = e->soon_t;
	if (!t)
		return;
	e->soon_t = NULL;
	if (t->slot && enqueue(e, t->when, t->seq, t, t->owner, e->soon_cls, NULL) < 0) {
		e->err = SIM_ERR_NOMEM;
		e->stop = true;
	}
}

sim_time sim_engine_next(struct sim_engine *e)
{
	soon_flush(e);
	return refill(e) ? top(e)->when : SIM_TIME_NEVER;
}

int sim_timer_arm(struct sim_engine *e, struct sim_timer *t, sim_time when)
{
	return sim_timer_arm_as(e, t, when, 0);
}

/* A timer armed straight into a level-1 bucket keeps its entry's index
 * there in slot (index + 2; 1 for any other armed timer).  Cancelled or
 * re-armed while that bucket still waits, its entry is buried: marked
 * dead in place (written around the cache, like the entry), so the
 * cascade drops it instead of carrying it down to be hinted, fetched and
 * checked.  A retransmission timer cancelled by the answer is the common
 * case: one entry an exchange, and a cache line fetched for nothing.
 * Entries in a level-1 bucket only ever append until it comes down, so
 * the index holds; once it has come down (its block is not ahead of the
 * current one) the entry is left to the liveness check. */
static inline void bury(struct sim_engine *e, const struct sim_timer *t)
{
	if (t->slot < 2)
		return;
	uint64_t blk = (t->when >> e->shift) >> SIM_WHEEL_BITS;
	if (blk <= e->cur >> SIM_WHEEL_BITS)
		return;
	struct sim_ent *v = &e->l1[blk & WMASK].v[t->slot - 2];
	sim_store_nt64(&v->t, 0); /* a NULL pointer, around the cache */
}

/* The timer's side of arming: due at `when`, a new sequence number,
 * armed (slot 1 until its entry's place says otherwise).  A previous
 * arming's entry, if any, is stale from here on.  Returns the slot it had
 * (0: it was not armed). */
static inline uint32_t arm_timer(struct sim_engine *e, struct sim_timer *t, sim_time when)
{
	uint32_t was = t->slot;
	bury(e, t);
	t->when = when;
	t->seq = e->seq++;
	t->slot = 1;
	return was;
}

int sim_timer_arm_as(struct sim_engine *e, struct sim_timer *t, sim_time when,
		     uint8_t cls)
{
	if (when < e->now)
		when = e->now;
	if (SIM_UNLIKELY(e->ext != NULL))
		return sim_engine_ext_arm(e, t, when);
	soon_flush(e);
	uint32_t was = arm_timer(e, t, when), at = UINT32_MAX;
	if (enqueue(e, when, t->seq, t, t->owner, cls, &at) < 0) {
		t->slot = 0;
		e->len -= was != 0;
		return SIM_ERR_NOMEM;
	}
	if (at < UINT32_MAX - 2)
		t->slot = at + 2;
	e->len += was == 0;
	return 0;
}

/* Level-0 entries only, into a bucket the hint cursor has not reached.
 * At a million endpoints a packet 100 ms ahead lands some 1,500 buckets
 * on, whose header, and the line its entry goes to, were last touched a
 * wheel turn ago: written at once, the arming waited for them.  The
 * header is fetched now and the entry written at the next call. */
int sim_timer_arm_soon(struct sim_engine *e, struct sim_timer *t, sim_time when,
		       uint8_t cls)
{
	if (when < e->now)
		when = e->now;
	uint64_t b = when >> e->shift;
	if (!SIM_HINTS || e->ext || !(b > e->hb && b > e->cur && b - e->cur < SIM_WHEEL_SIZE))
		return sim_timer_arm_as(e, t, when, cls); /* deferred only as a speed trick */
	soon_flush(e);
	e->len += arm_timer(e, t, when) == 0;
	e->soon_t = t;
	e->soon_cls = cls;
	SIM_PREFETCH(&e->l0[b & WMASK]);
	return 0;
}

void sim_timer_cancel(struct sim_engine *e, struct sim_timer *t)
{
	if (!t->slot)
		return;
	if (e->ext) {
		sim_engine_ext_cancel(e, t);
		return;
	}
	bury(e, t); /* armed with arm_soon and not yet written: soon_flush skips it */
	t->slot = 0; /* its entry is dropped when it comes up */
	e->len--;
	t->when = SIM_TIME_NEVER;
}

uint64_t sim_engine_run(struct sim_engine *e, sim_time until)
{
	uint64_t n = 0;

	e->stop = false;
	if (e->ext)
		return sim_engine_ext_run(e, until);
	soon_flush(e);
	while (!e->stop && refill(e)) {
		struct sim_ent next = *top(e);
		if (next.when > until)
			break;
		pop_hinted(e);
		e->len--;
		next.t->slot = 0;
		e->now = next.when;
		next.t->fn(e, next.t);
		soon_flush(e);
		n++;
	}
	e->events += n;
	return n;
}
