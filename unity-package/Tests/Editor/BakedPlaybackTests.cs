// The baked player's logic (what BakedSpeechPlayer runs each frame) against a simulated AudioSource
// with Unity's semantics: play to the end, pause and resume, a pause from outside, seek, loop, a
// PlayScheduled start, stop, and middleware driving the position.
using System;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class BakedPlaybackTests
    {
        /// <summary>An AudioSource playing a clip through a device that mixes 1024-sample buffers at 48 kHz.</summary>
        sealed class SimSource
        {
            public const int Rate = 48000, Buffer = 1024;
            public readonly int ClipSamples;
            public bool Loop, IsPlaying;
            public double Dsp;              // AudioSettings.dspTime
            double scheduled = -1;
            double position;                // samples heard, continuous
            public SimSource(double clipSeconds) { ClipSamples = (int)(clipSeconds * Rate); }

            public void Play() { position = 0; IsPlaying = true; scheduled = -1; }
            public void PlayScheduled(double dsp) { position = 0; IsPlaying = true; scheduled = dsp; }
            public void Pause() { IsPlaying = false; }
            public void UnPause() { IsPlaying = true; }
            public void Stop() { IsPlaying = false; position = 0; }
            public void Seek(double seconds) { position = seconds * Rate; }
            public double Heard { get { return position / Rate; } }

            public void Advance(double dt)
            {
                double from = Dsp;
                Dsp += dt;
                if (!IsPlaying) return;
                double run = scheduled >= 0 ? Math.Max(0, Dsp - Math.Max(from, scheduled)) : dt;
                position += run * Rate;
                if (position >= ClipSamples)
                {
                    if (Loop) position -= ClipSamples;
                    else Stop();   // the clip ran out: Unity stops and rewinds
                }
            }

            public AudioReading Reading()
            {
                int samples = (int)(Math.Floor(position / Buffer) * Buffer);
                return new AudioReading(IsPlaying, samples, Rate, ClipSamples, Dsp, 1.0);
            }
        }

        static BakedTrack Line(double seconds, int seed = 2) { return BakedTrackTests.RandomTrack((int)Math.Round(seconds * 25), 25, seed); }

        const double Frame = 1 / 60.0;

        /// <summary>Steps game frames; returns how many ended the line and the worst |face - sound| seen while checking.</summary>
        static int Run(BakedPlayback p, SimSource s, MotionFrame f, int frames, ref double worst, Func<int, bool> check = null)
        {
            int finishedCount = 0;
            for (int i = 0; i < frames; i++)
            {
                s.Advance(Frame);
                bool finished;
                bool shown = p.Update(s.Reading(), s.Dsp, f, out finished);
                if (finished) { finishedCount++; Assert.IsFalse(shown, "the frame that ends a line shows nothing"); }
                if (shown && s.IsPlaying && (check == null || check(i)))
                    worst = Math.Max(worst, Math.Abs(p.Time - s.Heard));
            }
            return finishedCount;
        }

        [Test]
        public void ALinePlaysInSyncAndFinishesOnceAtItsEnd()
        {
            var track = Line(2.0);
            var s = new SimSource(track.Duration);
            var p = new BakedPlayback();
            var f = new MotionFrame();
            s.Play();
            p.Begin(track);
            double worst = 0;
            int endedAt = -1;
            for (int i = 0; i < 200; i++)
            {
                s.Advance(Frame);
                bool finished;
                bool shown = p.Update(s.Reading(), s.Dsp, f, out finished);
                if (finished) { Assert.AreEqual(-1, endedAt, "finished twice"); endedAt = i; }
                if (shown && i > 20) worst = Math.Max(worst, Math.Abs(p.Time - s.Heard));
                if (endedAt >= 0 && i > endedAt) Assert.IsFalse(shown, "nothing shown after the end");
            }
            Assert.Less(worst, 0.015, "the face stays within 15 ms of the sound");
            Assert.AreEqual(2.0 / Frame, endedAt, 1.5, "ends on the frame the clip runs out");
            Assert.AreEqual(BakedPlaybackState.Idle, p.State);
        }

        [Test]
        public void PauseFromThePlayerOrFromOutsideHoldsTheFaceAndNeitherEndsTheLine()
        {
            var track = Line(3.0);
            var s = new SimSource(track.Duration);
            var p = new BakedPlayback();
            var f = new MotionFrame();
            s.Play();
            p.Begin(track);
            double worst = 0;
            Run(p, s, f, 60, ref worst);
            p.Pause(); s.Pause();                               // BakedSpeechPlayer.Pause()
            double held = p.Time;
            Assert.AreEqual(0, Run(p, s, f, 60, ref worst));
            Assert.AreEqual(held, p.Time, 0.025, "the face holds where the sound stopped");
            var heldFace = (float[])f.Blendshapes.Clone();
            Run(p, s, f, 5, ref worst);
            CollectionAssert.AreEqual(heldFace, f.Blendshapes, "nothing moves during a pause");
            p.UnPause(); s.UnPause();
            worst = 0;
            Assert.AreEqual(0, Run(p, s, f, 30, ref worst, i => i > 3));
            Assert.Less(worst, 0.025, "resumes with the sound");
            s.Pause();                                          // audioSource.Pause() by another script
            Assert.AreEqual(0, Run(p, s, f, 30, ref worst), "a pause from outside is not the end");
            Assert.AreEqual(BakedPlaybackState.Playing, p.State);
            s.UnPause();
            Assert.AreEqual(1, Run(p, s, f, 200, ref worst), "and the line still ends once");
        }

        [Test]
        public void SeekAndLoopMoveTheFaceWithTheSound()
        {
            var track = Line(1.2);
            var s = new SimSource(track.Duration) { Loop = true };
            var p = new BakedPlayback();
            var f = new MotionFrame();
            s.Play();
            p.Begin(track);
            double worst = 0;
            Run(p, s, f, 20, ref worst);
            s.Seek(0.9);
            s.Advance(Frame);
            bool finished;
            Assert.IsTrue(p.Update(s.Reading(), s.Dsp, f, out finished));
            Assert.AreEqual(s.Heard, p.Time, 0.03, "the face jumps with the seek");
            Assert.AreEqual(1, p.Jumps);
            worst = 0;
            double last = p.Time;
            int wraps = 0;
            for (int i = 0; i < 300; i++)
            {
                s.Advance(Frame);
                Assert.IsTrue(p.Update(s.Reading(), s.Dsp, f, out finished), "a looping line never ends");
                if (p.Time < last) wraps++;
                last = p.Time;
            }
            Assert.GreaterOrEqual(wraps, 3, "the face wraps with the loop");
            Assert.AreEqual(1 + wraps, p.Jumps);
        }

        [Test]
        public void AScheduledStartHoldsTheFirstFrameUntilTheDspClockGetsThere()
        {
            var track = Line(1.0);
            var s = new SimSource(track.Duration);
            var p = new BakedPlayback();
            var f = new MotionFrame();
            var first = new MotionFrame();
            track.GetFrame(0, first);
            double start = s.Dsp + 0.5;
            s.PlayScheduled(start);
            p.Begin(track, start);
            bool finished;
            while (s.Dsp + Frame < start)
            {
                s.Advance(Frame);
                Assert.IsTrue(p.Update(s.Reading(), s.Dsp, f, out finished));
                Assert.IsTrue(p.Waiting);
                CollectionAssert.AreEqual(first.Blendshapes, f.Blendshapes, "before the cue: the first frame");
            }
            double worst = 0;
            Run(p, s, f, 40, ref worst, i => i > 12);
            Assert.IsFalse(p.Waiting);
            Assert.Greater(p.Time, 0.4, "then it follows the sound");
            Assert.Less(worst, 0.015);
        }

        [Test]
        public void StopShowsNothingAndIsNotAnEnd()
        {
            var track = Line(1.0);
            var p = new BakedPlayback();
            var f = new MotionFrame();
            bool finished;
            Assert.IsFalse(p.Update(new AudioReading(true, 0, 48000, 48000), 0, f, out finished), "idle before Begin");
            p.Begin(track);
            Assert.IsTrue(p.Update(new AudioReading(false, 0, 48000, 48000), 0, f, out finished),
                          "a source that has not started yet (a clip still loading) is not an end");
            Assert.IsFalse(finished);
            p.Stop();
            Assert.IsFalse(p.Update(new AudioReading(false, 0, 48000, 48000), 0.1, f, out finished));
            Assert.IsFalse(finished);
        }

        [Test]
        public void MiddlewareCanDriveThePositionDirectly()
        {
            var track = Line(1.0);
            var p = new BakedPlayback();
            var f = new MotionFrame();
            var expected = new MotionFrame();
            p.Begin(track);
            bool finished;
            double now = 0;
            for (int i = 1; i <= 50; i++)
            {
                now += 0.02;
                Assert.IsTrue(p.UpdateDriven(i * 0.02, true, now, f, out finished));
            }
            track.Sample(1.0, expected);
            Assert.AreEqual(1.0, p.Time, 0.02);
            Assert.IsFalse(p.UpdateDriven(1.0, false, now + 0.02, f, out finished), "stopped at its end: finished");
            Assert.IsTrue(finished);
        }

        [Test]
        public void OutputLatencyShowsTheFaceThatMuchEarlierInTheLine()
        {
            var track = Line(2.0);
            var s = new SimSource(track.Duration);
            var p = new BakedPlayback { LatencySeconds = 0.2 };
            var f = new MotionFrame();
            s.Play();
            p.Begin(track);
            double worst = 0;
            Run(p, s, f, 60, ref worst);
            Assert.AreEqual(s.Heard - 0.2, p.Time, 0.015);
        }
    }
}
