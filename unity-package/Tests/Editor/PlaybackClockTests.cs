// The clock that follows an AudioSource, against a simulated audio device: the position Unity
// reports (timeSamples) steps once per DSP buffer while game frames come at their own uneven pace;
// the clock must stay on the sound, never step back while playing, hold in pauses, and snap on
// seeks and loops.
using System;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class PlaybackClockTests
    {
        /// <summary>An audio device mixing a clip in buffers: Position is what is being heard (continuous),
        /// Reported what AudioSource.timeSamples / frequency says (the last buffer boundary).</summary>
        sealed class SimAudio
        {
            public readonly int Rate, Buffer;
            public readonly double Speed;   // the device clock against the game clock (1.002 = 0.2 % fast)
            public readonly double ClipLength;
            public bool Playing, Loop;
            public double Position;
            public SimAudio(int rate = 48000, int buffer = 1024, double speed = 1.0, double clipLength = 1e9)
            {
                Rate = rate; Buffer = buffer; Speed = speed; ClipLength = clipLength;
            }
            public void Advance(double dt)
            {
                if (!Playing) return;
                Position += dt * Speed;
                if (Position >= ClipLength)
                {
                    if (Loop) Position -= ClipLength;
                    else { Position = 0; Playing = false; }
                }
            }
            public double Reported
            {
                get { return Math.Floor(Position * Rate / Buffer) * Buffer / Rate; }
            }
        }

        /// <summary>Game frames of about 1/60 s with seeded jitter (8 to 25 ms).</summary>
        sealed class Frames
        {
            readonly Random rng;
            public double Now = 100.0;   // the game clock starts anywhere
            public Frames(int seed) { rng = new Random(seed); }
            public double Next() { double dt = 0.008 + rng.NextDouble() * 0.017; Now += dt; return dt; }
        }

        [Test]
        public void FollowsTheSoundSmoothlyBetweenBufferSteps()
        {
            var audio = new SimAudio { Playing = true };
            var frames = new Frames(1);
            var clock = new PlaybackClock();
            double maxClock = 0, maxRaw = 0, last = -1;
            for (int i = 0; i < 600; i++)
            {
                audio.Advance(frames.Next());
                double t = clock.Update(audio.Reported, audio.Playing, frames.Now);
                Assert.GreaterOrEqual(t, last, "frame " + i + ": the clock stepped back while playing");
                last = t;
                if (audio.Position < 0.3) continue;  // locking on
                maxClock = Math.Max(maxClock, Math.Abs(t - audio.Position));
                maxRaw = Math.Max(maxRaw, Math.Abs(audio.Reported - audio.Position));
            }
            Assert.Less(maxClock, 0.012, "the clock stays within 12 ms of what is heard");
            Assert.Greater(maxRaw, 0.018, "reading timeSamples directly is off by up to one 21 ms buffer");
            Assert.Less(maxClock, maxRaw);
            Assert.AreEqual(0, clock.Jumps);
        }

        [Test]
        public void StaysLockedWhenTheAudioDeviceClockDriftsAndBuffersAreLarge()
        {
            foreach (double speed in new[] { 0.997, 1.003 })
            {
                var audio = new SimAudio(44100, 4096, speed) { Playing = true };   // 93 ms buffers (some Android devices)
                var frames = new Frames(2);
                var clock = new PlaybackClock();
                double worst = 0;
                for (int i = 0; i < 2000; i++)
                {
                    audio.Advance(frames.Next());
                    double t = clock.Update(audio.Reported, true, frames.Now);
                    if (audio.Position > 1.0) worst = Math.Max(worst, Math.Abs(t - audio.Position));
                }
                Assert.Less(worst, 0.03, "speed " + speed + ": within 30 ms of the sound over " + audio.Position.ToString("F0") + " s");
                Assert.AreEqual(0, clock.Jumps, "speed " + speed);
            }
        }

        [Test]
        public void PauseHoldsAndResumeContinuesFromThere()
        {
            var audio = new SimAudio { Playing = true };
            var frames = new Frames(3);
            var clock = new PlaybackClock();
            while (audio.Position < 1.0) { audio.Advance(frames.Next()); clock.Update(audio.Reported, true, frames.Now); }
            audio.Playing = false;   // AudioSource.Pause(): isPlaying false, timeSamples kept
            double paused = clock.Update(audio.Reported, false, frames.Now);
            Assert.AreEqual(audio.Reported, paused, 1e-12);
            for (int i = 0; i < 100; i++)
            {
                audio.Advance(frames.Next());
                Assert.AreEqual(paused, clock.Update(audio.Reported, false, frames.Now), "frame " + i + " of the pause");
            }
            Assert.IsFalse(clock.Running);
            audio.Playing = true;    // UnPause()
            double worst = 0;
            for (int i = 0; i < 120; i++)
            {
                audio.Advance(frames.Next());
                double t = clock.Update(audio.Reported, true, frames.Now);
                worst = Math.Max(worst, Math.Abs(t - audio.Position));
            }
            Assert.Less(worst, 0.03, "after the pause the clock picks up where the sound is");
            Assert.AreEqual(0, clock.Jumps, "a pause is not a seek");
        }

        [Test]
        public void SeeksForwardAndBackSnapAtOnce()
        {
            var audio = new SimAudio { Playing = true };
            var frames = new Frames(4);
            var clock = new PlaybackClock();
            while (audio.Position < 0.8) { audio.Advance(frames.Next()); clock.Update(audio.Reported, true, frames.Now); }
            foreach (double target in new[] { 3.0, 0.25 })
            {
                audio.Position = target;             // timeSamples = ...
                audio.Advance(frames.Next());
                double t = clock.Update(audio.Reported, true, frames.Now);
                Assert.AreEqual(audio.Reported, t, 1e-12, "seek to " + target + ": the first frame after shows the new position");
                for (int i = 0; i < 30; i++) { audio.Advance(frames.Next()); t = clock.Update(audio.Reported, true, frames.Now); }
                Assert.AreEqual(audio.Position, t, 0.015);
            }
            Assert.AreEqual(2, clock.Jumps);
        }

        [Test]
        public void LoopingClipWrapsTheClockEachTime()
        {
            var audio = new SimAudio(clipLength: 1.5) { Playing = true, Loop = true };
            var frames = new Frames(5);
            var clock = new PlaybackClock();
            int wraps = 0;
            double prevPos = 0, t = 0;
            for (int i = 0; i < 400; i++)
            {
                audio.Advance(frames.Next());
                bool wrapped = audio.Position < prevPos;
                prevPos = audio.Position;
                t = clock.Update(audio.Reported, true, frames.Now);
                if (wrapped)
                {
                    wraps++;
                    Assert.Less(t, 0.05, "loop " + wraps + ": the clock wraps with the sound");
                }
                else if (audio.Position > 0.3) Assert.AreEqual(audio.Position, t, 0.015, "frame " + i);
            }
            Assert.GreaterOrEqual(wraps, 3);
            Assert.AreEqual(wraps, clock.Jumps);
        }

        [Test]
        public void APositionThatStopsSteppingWhilePlayingHoldsAfterMaxLead()
        {
            // PlayScheduled in the future, or a starved device: isPlaying is true, timeSamples stays.
            var clock = new PlaybackClock(maxLead: 0.1);
            double now = 0;
            clock.Update(0, true, now);
            for (int i = 0; i < 60; i++) { now += 1 / 60.0; clock.Update(0, true, now); }
            Assert.AreEqual(0.1, clock.Time, 1e-9, "runs at most MaxLead past the reported position");
            now += 1 / 60.0;
            double t = clock.Update(1024 / 48000.0, true, now);
            Assert.AreEqual(0.1, t, 1e-9, "the sound starting behind the clock does not pull it backwards...");
            double later = t;
            for (int i = 0; i < 60; i++) { now += 1 / 60.0; later = clock.Update(1024 / 48000.0 * (i + 2) * 0.78, true, now); }
            Assert.Greater(later, 0.1, "...and it moves on with the sound");
        }

        [Test]
        public void StoppedSourceShowsItsPositionAndPlaybackSpeedScalesThePrediction()
        {
            var clock = new PlaybackClock();
            Assert.AreEqual(0.0, clock.Update(0, false, 5));
            clock.Update(1.0, true, 10.0);
            Assert.AreEqual(1.0 + 0.02 * 2.0, clock.Update(1.0, true, 10.02, 2.0), 1e-12, "pitch 2 runs twice as fast between steps");
            Assert.AreEqual(0.5, clock.Update(0.5, false, 10.04), "stopped: the reported position");
            clock.Reset();
            Assert.AreEqual(0, clock.Jumps);
            Assert.Throws<ArgumentOutOfRangeException>(() => new PlaybackClock(gain: 0));
        }

        [Test]
        public void TheFaceFollowsTheSimulatedSoundThroughPauseSeekAndLoop()
        {
            // End to end: what BakedSpeechPlayer does each frame (clock -> track.Sample) against the
            // frame the sound is at; the jaw shown is the jaw of the syllable being heard.
            var track = BakedTrackTests.RandomTrack(50, 25, 21);   // 2 s
            var audio = new SimAudio(clipLength: track.Duration) { Playing = true, Loop = true };
            var frames = new Frames(6);
            var clock = new PlaybackClock();
            var shown = new MotionFrame();
            var heard = new MotionFrame();
            int jaw = ArkitNames.IndexOf("jawOpen");
            double worst = 0;
            int checkedFrames = 0, settleUntil = 30;
            for (int i = 0; i < 900; i++)
            {
                if (i == 200) audio.Playing = false;   // pause
                if (i == 260) audio.Playing = true;
                if (i == 400) audio.Position = 1.3;     // seek
                double before = audio.Position;
                audio.Advance(frames.Next());
                double t = clock.Update(audio.Reported, audio.Playing, frames.Now);
                track.Sample(t, shown);
                track.Sample(audio.Position, heard);
                if (audio.Position < before || i == 400 || i == 260) settleUntil = i + 15;  // loop, seek, resume
                if (i < settleUntil) continue;
                checkedFrames++;
                // Within 12 ms of the sound: the jaw differs by at most 12 ms of its steepest slope.
                double slope = 0;
                for (int f = 1; f < track.FrameCount; f++)
                    slope = Math.Max(slope, Math.Abs(track.Blendshape(f, jaw) - track.Blendshape(f - 1, jaw)) * track.Fps);
                worst = Math.Max(worst, Math.Abs(shown.Blendshapes[jaw] - heard.Blendshapes[jaw]) / slope);
            }
            Assert.Greater(checkedFrames, 650);
            Assert.Less(worst, 0.015, "the jaw shown is never more than 15 ms of motion away from the jaw heard");
        }
    }
}
