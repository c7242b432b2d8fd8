/* pts -> OBS clock mapping and restart detection (vasa-clock.c), driven by a fake clock. */
#include "vasa-clock.h"

#include <stdio.h>

static int failures, checks;

#define EXPECT_EQ(got, want, what)                                                      \
	do {                                                                            \
		long long g_ = (long long)(got), w_ = (long long)(want);                \
		checks++;                                                               \
		if (g_ != w_) {                                                         \
			fprintf(stderr, "FAIL line %d: %s is %lld: expected %lld\n", __LINE__, \
				what, g_, w_);                                          \
			failures++;                                                     \
		}                                                                       \
	} while (0)

#define MS 1000000LL

int main(void)
{
	struct vasa_clock c;
	vasa_clock_init(&c);
	long long t0 = 5000 * MS; /* OBS clock at the first message */

	/* the first message fixes the offset; later ones keep the publisher's spacing, not the
	 * arrival jitter */
	EXPECT_EQ(vasa_clock_map(&c, 1000 * MS, t0), t0, "first frame");
	EXPECT_EQ(vasa_clock_map(&c, 1040 * MS, t0 + 47 * MS), t0 + 40 * MS, "second frame");
	EXPECT_EQ(vasa_clock_map(&c, 1040 * MS, t0 + 48 * MS), t0 + 40 * MS, "its audio");
	/* audio of an earlier frame arriving after a later frame: a small step back is fine */
	EXPECT_EQ(vasa_clock_map(&c, 1000 * MS, t0 + 49 * MS), t0, "late audio");
	EXPECT_EQ(c.restarts, 0, "restarts after normal traffic");
	/* a message faster than the first one: the mapping moves earlier to it, and the timestamp
	 * still comes after every one before */
	EXPECT_EQ(vasa_clock_map(&c, 1080 * MS, t0 + 75 * MS), t0 + 75 * MS, "faster message");
	EXPECT_EQ(vasa_clock_map(&c, 1120 * MS, t0 + 130 * MS), t0 + 115 * MS, "spacing after it");
	EXPECT_EQ(c.restarts, 0, "restarts after a faster message");

	/* the runtime restarts: pts starts again at 0, a long way back */
	long long t1 = t0 + 3000 * MS;
	(void)vasa_clock_map(&c, 1160 * MS, t0 + 160 * MS);
	EXPECT_EQ(vasa_clock_map(&c, 0, t1), t1, "pts back to 0 re-maps onto now");
	EXPECT_EQ(c.restarts, 1, "restarts after pts went back");
	EXPECT_EQ(vasa_clock_map(&c, 40 * MS, t1 + 41 * MS), t1 + 40 * MS, "spacing after restart");

	/* a restart seen by seq (pts may even continue): the next map starts afresh */
	EXPECT_EQ(vasa_clock_note_seq(&c, 1, 10), 0, "first seq");
	EXPECT_EQ(vasa_clock_note_seq(&c, 1, 11), 0, "next seq");
	EXPECT_EQ(vasa_clock_note_seq(&c, 2, 0), 0, "another kind counts alone");
	EXPECT_EQ(vasa_clock_note_seq(&c, 1, 14), 0, "a gap is no restart");
	EXPECT_EQ(c.dropped, 2, "messages missing in the gap");
	EXPECT_EQ(vasa_clock_note_seq(&c, 1, 0), 1, "seq back to 0 is a restart");
	long long t2 = t1 + 500 * MS;
	EXPECT_EQ(vasa_clock_map(&c, 80 * MS, t2), t2, "re-mapped after a seq restart");
	EXPECT_EQ(c.restarts, 2, "restarts after the seq restart");
	EXPECT_EQ(vasa_clock_note_seq(&c, 4, 7), 0, "hello seq");
	EXPECT_EQ(vasa_clock_note_seq(&c, 4, 7), 1, "a repeated hello seq is a restart");

	/* media time running ahead of OBS time (a publisher that skipped forward) is followed at
	 * once: no timestamp ever lies after its message's arrival */
	vasa_clock_init(&c);
	EXPECT_EQ(vasa_clock_map(&c, 0, t0), t0, "fresh");
	EXPECT_EQ(vasa_clock_map(&c, 1900 * MS, t0 + 100 * MS), t0 + 100 * MS, "ahead: followed");
	EXPECT_EQ(vasa_clock_map(&c, 1940 * MS, t0 + 150 * MS), t0 + 140 * MS, "spacing after it");
	EXPECT_EQ(c.restarts, 0, "a forward jump is no restart");
	/* behind: the publisher stalled, then went on from the same media time; within the drift
	 * limit the old mapping holds, beyond it the mapping starts again */
	EXPECT_EQ(vasa_clock_map(&c, 1980 * MS, t0 + 1500 * MS), t0 + 180 * MS, "1.3 s behind: kept");
	EXPECT_EQ(vasa_clock_map(&c, 2020 * MS, t0 + 4000 * MS), t0 + 4000 * MS, "3.8 s behind: re-mapped");
	EXPECT_EQ(c.restarts, 1, "restarts after a stall");

	/* never a timestamp before 0 on a young OBS clock */
	vasa_clock_init(&c);
	EXPECT_EQ(vasa_clock_map(&c, 10 * MS, 5 * MS), 5 * MS, "young clock");
	EXPECT_EQ(vasa_clock_map(&c, 2 * MS, 6 * MS), 0, "clamped at 0, not wrapped");

	/* the sound owns the mapping: a picture the renderer delivered late (CPU overload) is
	 * shown at once and never re-times the sound (OBS would restart the source's audio) */
	vasa_clock_init(&c);
	EXPECT_EQ(vasa_clock_map_picture(&c, 0, t0), t0, "a picture first: it maps");
	EXPECT_EQ(vasa_clock_map_sound(&c, 0, t0 + 2 * MS), t0, "its sound");
	EXPECT_EQ(vasa_clock_map_sound(&c, 1000 * MS, t0 + 1003 * MS), t0 + 1000 * MS, "sound 1 s");
	EXPECT_EQ(vasa_clock_map_picture(&c, 960 * MS, t0 + 1090 * MS), t0 + 960 * MS,
		  "a picture 130 ms after its sound keeps its place");
	EXPECT_EQ(vasa_clock_map_picture(&c, 400 * MS, t0 + 1100 * MS), t0 + 1100 * MS,
		  "0.6 s behind the sound: shown at once");
	EXPECT_EQ(vasa_clock_map_sound(&c, 1100 * MS, t0 + 1101 * MS), t0 + 1100 * MS,
		  "the sound's timeline unmoved");
	EXPECT_EQ(vasa_clock_map_picture(&c, 1100 * MS, t0 + 3500 * MS), t0 + 3500 * MS,
		  "2.4 s late: shown at once");
	EXPECT_EQ(vasa_clock_map_sound(&c, 3480 * MS, t0 + 3501 * MS), t0 + 3480 * MS,
		  "sound still on its timeline");
	EXPECT_EQ(c.restarts, 0, "late pictures restart nothing");
	EXPECT_EQ(c.late_pictures, 2, "late pictures counted");
	EXPECT_EQ(vasa_clock_map_picture(&c, 3600 * MS, t0 + 3550 * MS), t0 + 3550 * MS,
		  "a picture never lies after its arrival");
	EXPECT_EQ(vasa_clock_map_sound(&c, 3520 * MS, t0 + 3560 * MS), t0 + 3520 * MS,
		  "nor does it move the sound's offset");
	vasa_clock_reset(&c);
	EXPECT_EQ(vasa_clock_map_picture(&c, 5000 * MS, t0 + 9000 * MS), t0 + 9000 * MS,
		  "after a restart a picture maps again until sound comes");

	printf("clock: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
