/* Media time (the wire's `pts`) -> OBS's clock (os_gettime_ns), and publisher restarts.
 * Pure: the caller passes `now`, so the tests drive it with a fake clock.
 *
 * The first message fixes offset = now - pts; after that every timestamp is pts + offset, so
 * picture and sound keep the spacing the publisher gave them, not the network's jitter. A message
 * that arrives faster than that (now - pts < offset) lowers the offset: the mapping follows the
 * fastest path seen, so no timestamp lies after its message's arrival, and a slow first message
 * does not hold back every frame in buffered mode. The mapping starts again when the
 * publisher evidently restarted or stalled: a sequence number or pts that goes back, or a mapped
 * time more than VASA_CLOCK_MAX_DRIFT_NS behind now (OBS itself re-times a source whose
 * timestamps stray that far, MAX_TS_VAR in libobs). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VASA_CLOCK_MAX_BACK_NS 500000000LL   /* pts may step back this much (frame/audio interleave) */
#define VASA_CLOCK_MAX_DRIFT_NS 2000000000LL /* mapped this far behind now re-maps */
#define VASA_CLOCK_KINDS 5                   /* one seq counter per message kind */

struct vasa_clock {
	bool valid;
	int64_t offset;   /* OBS ns = pts + offset */
	int64_t last_pts; /* the last pts mapped */
	bool has_seq[VASA_CLOCK_KINDS];
	uint64_t last_seq[VASA_CLOCK_KINDS];
	uint64_t dropped;  /* messages missing from the seq runs (publisher or socket drops) */
	uint32_t restarts; /* times the mapping started again after the first */
	bool sound_seen;   /* the sound has set the mapping: pictures follow it */
	uint64_t late_pictures; /* pictures too far behind the sound, shown at once */
};

void vasa_clock_init(struct vasa_clock *c);

/* Forget the mapping (the next vasa_clock_map starts a new one); seq history is kept. */
void vasa_clock_reset(struct vasa_clock *c);

/* Note the seq of a message of `kind` (0 .. VASA_CLOCK_KINDS-1). A seq that goes back means the
 * publisher restarted: the mapping resets and this returns true. Gaps add to `dropped`. */
bool vasa_clock_note_seq(struct vasa_clock *c, int kind, uint64_t seq);

/* The OBS timestamp (ns) for media time `pts`, received at OBS time `now_ns`: for the sound,
 * which owns the mapping (and for pictures of a stream without sound). */
uint64_t vasa_clock_map(struct vasa_clock *c, int64_t pts, uint64_t now_ns);

/* vasa_clock_map for a block of sound: from then on pictures follow the sound's mapping. */
uint64_t vasa_clock_map_sound(struct vasa_clock *c, int64_t pts, uint64_t now_ns);

/* The same for a picture. Pictures follow the sound's mapping and never change it once sound
 * has arrived: a picture the renderer delivered late (CPU overload) is shown at once (its
 * timestamp is `now_ns`, counted in `late_pictures`) instead of re-timing the sound, whose
 * timeline OBS would otherwise restart. Before any sound, pictures map as vasa_clock_map. */
uint64_t vasa_clock_map_picture(struct vasa_clock *c, int64_t pts, uint64_t now_ns);

#ifdef __cplusplus
}
#endif
