/* See vasa-clock.h. */
#include "vasa-clock.h"

#include <string.h>

void vasa_clock_init(struct vasa_clock *c)
{
	memset(c, 0, sizeof(*c));
}

void vasa_clock_reset(struct vasa_clock *c)
{
	if (c->valid)
		c->restarts++;
	c->valid = false;
	c->sound_seen = false;
}

bool vasa_clock_note_seq(struct vasa_clock *c, int kind, uint64_t seq)
{
	if (kind < 0 || kind >= VASA_CLOCK_KINDS)
		return false;
	bool restarted = false;
	if (c->has_seq[kind]) {
		uint64_t last = c->last_seq[kind];
		if (seq <= last) {
			vasa_clock_reset(c);
			restarted = true;
		} else if (seq > last + 1) {
			c->dropped += seq - last - 1;
		}
	}
	c->has_seq[kind] = true;
	c->last_seq[kind] = seq;
	return restarted;
}

uint64_t vasa_clock_map(struct vasa_clock *c, int64_t pts, uint64_t now_ns)
{
	int64_t now = (int64_t)now_ns;
	if (c->valid) {
		int64_t behind = now - (pts + c->offset); /* >= 0: offset is the fastest path */
		if (pts < c->last_pts - VASA_CLOCK_MAX_BACK_NS || behind > VASA_CLOCK_MAX_DRIFT_NS)
			vasa_clock_reset(c);
	}
	if (!c->valid) {
		c->offset = now - pts;
		c->valid = true;
	} else if (now - pts < c->offset) {
		/* a message that came faster than the one that fixed the offset: follow the fastest
		 * path, so a slow first message does not delay everything after it. Timestamps stay
		 * increasing: every earlier one is <= its own arrival, which is before now. */
		c->offset = now - pts;
	}
	c->last_pts = pts;
	int64_t mapped = pts + c->offset;
	return mapped > 0 ? (uint64_t)mapped : 0;
}

uint64_t vasa_clock_map_sound(struct vasa_clock *c, int64_t pts, uint64_t now_ns)
{
	uint64_t mapped = vasa_clock_map(c, pts, now_ns);
	c->sound_seen = true;
	return mapped;
}

uint64_t vasa_clock_map_picture(struct vasa_clock *c, int64_t pts, uint64_t now_ns)
{
	if (!c->valid || !c->sound_seen)
		return vasa_clock_map(c, pts, now_ns);
	int64_t now = (int64_t)now_ns;
	int64_t mapped = pts + c->offset;
	if (pts < c->last_pts - VASA_CLOCK_MAX_BACK_NS || now - mapped > VASA_CLOCK_MAX_DRIFT_NS) {
		c->late_pictures++;
		return now_ns;
	}
	/* a picture never runs ahead of its arrival, and never moves the sound's offset */
	if (mapped > now)
		mapped = now;
	return mapped > 0 ? (uint64_t)mapped : 0;
}
