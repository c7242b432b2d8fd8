"""The picture governor: steps down under load, holds (hysteresis), jumps back up when there is
room. Pure: fed made-up costs on a made-up clock."""

from vasa_bridge.runtime.governor import Level, PictureConfig, PictureGovernor, degraded_sizes


def feed(gov, t0, seconds, render_512, lag=0.0, fps=25.0):
    """Hops of `seconds` at `fps`, each rendering at the governor's current size with a 512²
    render costing `render_512`; returns the levels seen, one per hop."""
    seen = []
    t = t0
    for _ in range(int(seconds * fps)):
        width = gov.level.size or 512
        render = render_512 * (width / 512) ** 2
        gov.observe(t, lag, render + 0.002, render, width)
        seen.append(gov.index)
        t += 1 / fps
    return t, seen


def test_degraded_sizes_step_through_three_quarters_and_half():
    assert degraded_sizes(512) == (384, 256)
    assert degraded_sizes(1024) == (768, 512)
    assert degraded_sizes(200) == (144, 128)  # half (100) is under the 128 floor
    assert degraded_sizes(128) == ()


def test_levels_go_size_first_then_frame_share():
    gov = PictureGovernor(PictureConfig(sizes=(384, 256), divisors=(2, 3)), full_size=512)
    assert gov.levels == [Level(None, 1), Level(384, 1), Level(256, 1), Level(256, 2),
                          Level(256, 3)]
    assert gov.describe() == "full"
    gov.index = 3
    assert gov.describe() == "degraded to 256², every 2 frames"


def test_steps_down_one_level_per_hold_and_stops_where_it_fits():
    gov = PictureGovernor(PictureConfig(sizes=(384, 256)), full_size=512)
    t, seen = feed(gov, 0.0, 0.3, 0.072)  # a render costs 1.8x the frame budget
    assert set(seen) == {0}  # not before down_after_s
    t, seen = feed(gov, t, 3.0, 0.072)
    assert gov.level == Level(256, 1) and gov.reason == "cpu-starved"  # 0.45 of the budget fits
    first_384 = seen.index(1)
    assert seen.index(2) - first_384 >= int(0.4 * 25)  # each step waits its own hold time
    assert gov.changes == 2


def test_holds_while_in_the_band_between_busy_and_room():
    gov = PictureGovernor(PictureConfig(sizes=(384, 256)), full_size=512)
    t, _ = feed(gov, 0.0, 2.0, 0.072)
    assert gov.index == 2
    # with a 512² render at 0.052 s, 384² would cost 0.029 s + other work = 0.78 of the budget:
    # fine where it is (256²: 0.36), under busy (0.9) but not room enough to go up (0.75): it
    # stays degraded (no flapping)
    t, seen = feed(gov, t, 5.0, 0.052)
    assert set(seen[10:]) == {2}


def test_jumps_back_to_full_quality_when_the_load_ends():
    gov = PictureGovernor(PictureConfig(sizes=(384, 256), divisors=(2, 3, 5)), full_size=512)
    t, _ = feed(gov, 0.0, 5.0, 0.5)  # hopeless: down to the last level
    assert gov.index == len(gov.levels) - 1
    t, seen = feed(gov, t, 2.0, 0.012)
    assert gov.index == 0 and gov.reason == ""
    assert seen.index(0) <= 25  # within a second
    assert len(set(seen)) <= 4  # three jumps at most, not a staircase through all six levels


def test_a_late_loop_with_cheap_pictures_is_not_degraded():
    gov = PictureGovernor(PictureConfig(sizes=(384, 256)), full_size=512)
    feed(gov, 0.0, 5.0, 0.004, lag=0.3)  # late for other reasons: smaller pictures won't help
    assert gov.index == 0


def test_learns_that_smaller_pictures_save_less_than_their_area():
    """A renderer with a fixed share per frame (as the shipped one: a 256² frame costs about half
    a 512² one or more, not a quarter). Priced by area alone, the full size looks too dear from
    256² after the load has gone, and the picture stayed degraded; the cost learned at the steps
    down brings it back within a second."""
    def hops(gov, t, seconds, scale, other=0.010):
        seen = []
        for _ in range(int(seconds * 25)):
            width = gov.level.size or 512
            render = scale * (0.004 + 0.004 * (width / 512) ** 2)
            gov.observe(t, 0.0, render + other, render, width)
            seen.append(gov.index)
            t += 1 / 25
        return t, seen

    gov = PictureGovernor(PictureConfig(sizes=(384, 256), divisors=()), full_size=512)
    t, _ = hops(gov, 0.0, 1.0, 1.0)
    assert gov.index == 0  # 0.008 + 0.010 s: 0.45 of the budget
    t, _ = hops(gov, t, 3.0, 5.0)  # loaded: every frame costs five times as much
    assert gov.index == 2
    assert 0.6 < gov.relative_cost(256) < 0.65  # learned: 0.005 / 0.008 (by area: 0.25)
    t, seen = hops(gov, t, 2.0, 1.0)
    assert gov.index == 0 and seen.index(0) <= 25


def test_pictures_are_not_cut_to_a_trickle_when_the_rest_of_the_work_fills_the_budget():
    """The motion model on a starved CPU takes 85 % of the budget: smaller pictures help while
    pictures are a real share of the work, fewer pictures would save almost nothing."""
    gov = PictureGovernor(PictureConfig(sizes=(384, 256), divisors=(2, 3, 5)), full_size=512)
    t = 0.0
    for _ in range(int(6 * 25)):
        width = gov.level.size or 512
        render = 0.020 * (width / 512) ** 2
        gov.observe(t, 0.0, render + 0.034, render, width)
        t += 1 / 25
    assert gov.level == Level(256, 1)  # 256², every frame: pictures 12.5 % of the budget


def test_goes_back_to_full_size_when_the_rest_of_the_work_is_a_third_of_the_budget():
    """The live motion (the model and the phone layer) takes about a third of each 40 ms hop and
    a 512² picture about as much again: after a busy moment the picture must come back to full
    size (with room 0.6 it never fitted again and stayed at 256² for good)."""
    gov = PictureGovernor(PictureConfig(sizes=(384, 256), divisors=(2, 3)), full_size=512)
    t = 0.0
    for _ in range(int(3 * 25)):  # a busy moment: everything costs twice as much
        width = gov.level.size or 512
        render = 0.024 * (width / 512) ** 2
        gov.observe(t, 0.0, render + 0.028, render, width)
        t += 1 / 25
    assert gov.index >= 1
    seen = []
    for _ in range(int(3 * 25)):  # quiet again: motion 14 ms, a 512² render 11 ms (0.63)
        width = gov.level.size or 512
        render = 0.011 * (width / 512) ** 2
        gov.observe(t, 0.0, render + 0.014, render, width)
        seen.append(gov.index)
        t += 1 / 25
    assert gov.index == 0 and seen.index(0) <= 2 * 25
