// Jitter buffer, playout clock, motion playout and the audio buffer: pure, driven by fake times.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class JitterBufferTests
    {
        const long Ms = 1000000;

        [Test]
        public void OutOfOrderArrivalsComeOutInPtsOrder()
        {
            var jb = new JitterBuffer<string>(8);
            jb.Push(80 * Ms, "c"); jb.Push(0, "a"); jb.Push(40 * Ms, "b");
            Assert.AreEqual(0, jb.OldestPts);
            Assert.AreEqual(80 * Ms, jb.NewestPts);
            string item; long pts;
            Assert.IsFalse(jb.TryPop(-1, out item, out pts), "nothing due before the first pts");
            Assert.IsTrue(jb.TryPop(0, out item, out pts));
            Assert.AreEqual("a", item);
            Assert.IsTrue(jb.TryPop(45 * Ms, out item, out pts));
            Assert.AreEqual("b", item);
            Assert.AreEqual(40 * Ms, pts);
            Assert.AreEqual(1, jb.Count);
        }

        [Test]
        public void PopReleasesTheNewestDueAndCountsSkipped()
        {
            var jb = new JitterBuffer<int>(8);
            for (int i = 0; i < 5; i++) jb.Push(i * 40 * Ms, i);
            int item; long pts;
            Assert.IsTrue(jb.TryPop(130 * Ms, out item, out pts));
            Assert.AreEqual(3, item);
            Assert.AreEqual(3, jb.Skipped);
            Assert.AreEqual(1, jb.Count);
        }

        [Test]
        public void LateDuplicateAndOverflow()
        {
            var jb = new JitterBuffer<int>(3);
            jb.Push(100, 1);
            int item; long pts;
            jb.TryPop(100, out item, out pts);
            Assert.IsFalse(jb.Push(100, 2), "already released");
            Assert.IsFalse(jb.Push(50, 2), "older than released");
            Assert.AreEqual(2, jb.LateDrops);
            jb.Push(200, 1); jb.Push(200, 9);
            Assert.AreEqual(1, jb.Count, "a repeated pts replaces");
            jb.TryPop(200, out item, out pts);
            Assert.AreEqual(9, item);
            jb.Push(300, 0); jb.Push(400, 0); jb.Push(500, 0); jb.Push(600, 0);
            Assert.AreEqual(3, jb.Count);
            Assert.AreEqual(1, jb.OverflowDrops);
            Assert.AreEqual(400, jb.OldestPts);
            jb.Clear();
            Assert.IsTrue(jb.Push(10, 0), "Clear forgets what was released (publisher restart)");
        }

        [Test]
        public void BracketKeepsTheFrameBeforePlayoutForInterpolation()
        {
            var jb = new JitterBuffer<int>(8);
            for (int i = 0; i < 4; i++) jb.Push(i * 40, i);
            int a, b; long pa, pb;
            Assert.AreEqual(0, jb.Bracket(-5, out a, out pa, out b, out pb));
            Assert.AreEqual(2, jb.Bracket(50, out a, out pa, out b, out pb));
            Assert.AreEqual(1, a); Assert.AreEqual(2, b);
            Assert.AreEqual(2, jb.Bracket(60, out a, out pa, out b, out pb), "the same pair again");
            Assert.AreEqual(1, jb.Bracket(500, out a, out pa, out b, out pb));
            Assert.AreEqual(3, a);
            Assert.IsFalse(jb.Push(100, 7), "older than the held frame: late");
            Assert.IsTrue(jb.Push(160, 4));
        }
    }

    [TestFixture]
    public class PlayoutClockTests
    {
        const long Ms = 1000000;

        [Test]
        public void PlayoutRunsDelayBehindTheFirstArrival()
        {
            var c = new PlayoutClock(100 * Ms, 80 * Ms);
            Assert.Throws<InvalidOperationException>(() => c.PlayoutPts(0));
            Assert.IsTrue(c.OnArrival(5000 * Ms, 1 * Ms));
            Assert.AreEqual(4900 * Ms, c.PlayoutPts(1 * Ms));
            Assert.AreEqual(4950 * Ms, c.PlayoutPts(51 * Ms));
        }

        [Test]
        public void JitterDoesNotResyncButSteadyDriftDoes()
        {
            var c = new PlayoutClock(100 * Ms, 80 * Ms);
            c.OnArrival(0, 0);
            // 25 fps with +-30 ms of network jitter: no resync.
            var rng = new Random(3);
            for (int i = 1; i < 200; i++) Assert.IsFalse(c.OnArrival(i * 40 * Ms, i * 40 * Ms + rng.Next(-30, 30) * Ms), "frame " + i);
            Assert.AreEqual(0, c.Resyncs);
            // The sender now runs 10% fast: its lead grows until the clock re-anchors.
            bool resynced = false;
            for (int i = 200; i < 400 && !resynced; i++) resynced = c.OnArrival((long)(i * 44 * Ms), i * 40 * Ms);
            Assert.IsTrue(resynced);
            Assert.AreEqual(1, c.Resyncs);
        }

        [Test]
        public void PtsJumpingBackIsARestart()
        {
            var c = new PlayoutClock(100 * Ms, 80 * Ms);
            c.OnArrival(60000 * Ms, 0);
            Assert.IsTrue(c.OnArrival(0, 40 * Ms));
            Assert.AreEqual(-100 * Ms, c.PlayoutPts(40 * Ms));
        }
    }

    [TestFixture]
    public class MotionPlayoutTests
    {
        const long Ms = 1000000;

        static MotionFrame Frame(long pts, float jaw, double yaw)
        {
            var f = new MotionFrame { Pts = pts, HeadRotation = new Vec3(0, yaw, 0) };
            f["jawOpen"] = jaw;
            return f;
        }

        [Test]
        public void SamplesBetweenFramesInterpolate()
        {
            var p = new MotionPlayout();
            p.Push(Frame(0, 0f, 0));
            p.Push(Frame(40 * Ms, 1f, 20));
            var r = new MotionFrame();
            Assert.IsFalse(p.Sample(-1, r));
            Assert.IsTrue(p.Sample(10 * Ms, r));
            Assert.AreEqual(0.25f, r["jawOpen"], 1e-6);
            Assert.AreEqual(5.0, r.HeadRotation.Y, 1e-9);
            Assert.AreEqual(10 * Ms, r.Pts);
            Assert.IsTrue(p.Sample(90 * Ms, r), "past the newest frame: hold it");
            Assert.AreEqual(1f, r["jawOpen"]);
        }
    }

    [TestFixture]
    public class AudioBufferTests
    {
        const long Ms = 1000000;

        [Test]
        public void SameRateMonoToStereoKeepsSamplesAndTracksPts()
        {
            var b = new AudioBuffer(16000, 2);
            var src = new float[160];
            for (int i = 0; i < src.Length; i++) src[i] = i / 1000f;
            b.Write(src, 160, 1, 16000, 500 * Ms);
            Assert.AreEqual(0.01, b.Buffered, 1e-9);
            Assert.AreEqual(500 * Ms, b.ReadPts);
            var dst = new float[100];
            Assert.AreEqual(100, b.Read(dst, 0, 100));
            Assert.AreEqual(dst[20], dst[21]);
            Assert.AreEqual(10 / 1000f, dst[20], 1e-7);
            Assert.AreEqual(500 * Ms + 50 * 1000000000L / 16000, b.ReadPts);
        }

        [Test]
        public void ConsecutiveMessagesResampleWithoutAGap()
        {
            // A 16 kHz ramp in two messages, played at 48 kHz: a continuous ramp three times longer.
            var b = new AudioBuffer(48000, 1);
            var first = new float[160];
            var second = new float[160];
            for (int i = 0; i < 160; i++) { first[i] = i; second[i] = 160 + i; }
            b.Write(first, 160, 1, 16000, 0);
            b.Write(second, 160, 1, 16000, 10 * Ms);
            var dst = new float[958];
            Assert.AreEqual(958, b.Read(dst, 0, 958));
            for (int k = 0; k < 958; k++) Assert.AreEqual(k / 3.0, dst[k], 1e-3, "sample " + k);
        }

        [Test]
        public void UnderrunGivesSilenceAndAGapRestartsAtTheNewPts()
        {
            var b = new AudioBuffer(1000, 1);
            b.Write(new float[] { 1, 1, 1, 1 }, 4, 1, 1000, 0);
            var dst = new float[8];
            Assert.AreEqual(4, b.Read(dst, 0, 8));
            Assert.AreEqual(0f, dst[7]);
            Assert.AreEqual(1, b.Underruns);
            b.Write(new float[] { 0.5f, 0.5f }, 2, 1, 1000, 900 * Ms);
            Assert.AreEqual(900 * Ms, b.ReadPts);
        }

        [Test]
        public void AFullRingDropsTheOldestAudio()
        {
            var b = new AudioBuffer(1000, 1, 0.01);  // 10 samples
            var src = new float[15];
            for (int i = 0; i < 15; i++) src[i] = i;
            b.Write(src, 15, 1, 1000, 0);
            Assert.AreEqual(5, b.Overflows);
            var dst = new float[10];
            b.Read(dst, 0, 10);
            Assert.AreEqual(5f, dst[0]);
            Assert.AreEqual(15 * Ms, b.ReadPts);
        }
    }

    [TestFixture]
    public class PixelCopyTests
    {
        [Test]
        public void FlipDropsPaddingAndReversesRows()
        {
            // 1 pixel wide, 2 rows, stride 8 (4 bytes of padding).
            byte[] src = { 1, 2, 3, 4, 0xEE, 0xEE, 0xEE, 0xEE, 5, 6, 7, 8, 0xEE, 0xEE, 0xEE, 0xEE };
            var dst = new byte[8];
            PixelCopy.CopyRows(src, 8, 1, 2, dst, true, AlphaConversion.None);
            CollectionAssert.AreEqual(new byte[] { 5, 6, 7, 8, 1, 2, 3, 4 }, dst);
            PixelCopy.CopyRows(src, 8, 1, 2, dst, false, AlphaConversion.None);
            CollectionAssert.AreEqual(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, dst);
        }

        [Test]
        public void AlphaConversionsRoundAndLeaveAlphaAlone()
        {
            byte[] straight = { 255, 128, 0, 128 };
            var pre = new byte[4];
            PixelCopy.CopyRows(straight, 4, 1, 1, pre, false, PixelCopy.Between(AlphaMode.Straight, AlphaMode.Premultiplied));
            CollectionAssert.AreEqual(new byte[] { 128, 64, 0, 128 }, pre);
            var back = new byte[4];
            PixelCopy.CopyRows(pre, 4, 1, 1, back, false, PixelCopy.Between(AlphaMode.Premultiplied, AlphaMode.Straight));
            CollectionAssert.AreEqual(new byte[] { 255, 128, 0, 128 }, back);
            Assert.AreEqual(0, PixelCopy.Unpremultiply(10, 0), "transparent stays black");
            Assert.AreEqual(255, PixelCopy.Unpremultiply(200, 100), "invalid input clamps");
            Assert.AreEqual(AlphaConversion.None, PixelCopy.Between(AlphaMode.Straight, AlphaMode.Straight));
        }
    }
}
