// The client's logic without Unity: buffering by pts, playout clock, external (audio) clock,
// restarts from a pts jump or a hello sequence reset, bad motion counted and dropped.
using System.Collections.Generic;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class StreamPlayerTests
    {
        const long Ms = 1000000;

        static Dictionary<string, object> Common(string kind, string stream, long seq, long pts)
        {
            return new Dictionary<string, object> { { "v", 1L }, { "seq", seq }, { "stream", stream }, { "pts", pts }, { "sent", 0L } };
        }

        static Message Motion(long seq, long pts, float jaw)
        {
            var h = Common("motion", "default", seq, pts);
            h["names"] = new List<object> { "jawOpen" };
            h["head_rotation"] = new List<object> { 0L, 0L, 0L };
            h["head_translation"] = new List<object> { 0L, 0L, 0L };
            return WireDecoder.Decode(new List<byte[]> { Protocol.Topic(MessageKind.Motion, "default"),
                new MsgPackWriter().WriteValue(h).ToArray(), System.BitConverter.GetBytes(jaw) });
        }

        static Message Frame(long seq, long pts)
        {
            var h = Common("frame", "default", seq, pts);
            h["width"] = 1L; h["height"] = 1L; h["stride"] = 4L; h["format"] = "rgba8"; h["alpha"] = "straight";
            return WireDecoder.Decode(new List<byte[]> { Protocol.Topic(MessageKind.Frame, "default"),
                new MsgPackWriter().WriteValue(h).ToArray(), new byte[] { (byte)seq, 0, 0, 255 } });
        }

        static Message Hello(long seq)
        {
            var h = Common("hello", "", seq, 0);
            h["streams"] = new List<object> { "default" }; h["capabilities"] = new List<object>(); h["publisher"] = "t";
            return WireDecoder.Decode(new List<byte[]> { Protocol.Topic(MessageKind.Hello, ""), new MsgPackWriter().WriteValue(h).ToArray(), new byte[0] });
        }

        [Test]
        public void MotionPlaysOutDelayBehindArrivalAndInterpolates()
        {
            var p = new StreamPlayer(100 * Ms, 80 * Ms, true);
            var f = new MotionFrame();
            bool has; FrameMessage frame;
            Assert.IsFalse(p.PlayOut(0, null, f, out has, out frame), "nothing arrived yet");
            p.Handle(Motion(0, 1000 * Ms, 0f), 0);
            p.Handle(Motion(1, 1040 * Ms, 1f), 40 * Ms);
            Assert.IsTrue(p.PlayOut(50 * Ms, null, f, out has, out frame));
            Assert.IsFalse(has, "playout is at 950 ms: before the first frame");
            Assert.IsTrue(p.PlayOut(110 * Ms, null, f, out has, out frame));
            Assert.IsTrue(has);
            Assert.AreEqual(1010 * Ms, p.PlayoutPts);
            Assert.AreEqual(0.25f, f["jawOpen"], 1e-6);
        }

        [Test]
        public void AnExternalClockWins()
        {
            var p = new StreamPlayer(100 * Ms, 80 * Ms, true);
            p.Handle(Motion(0, 0, 0f), 0);
            p.Handle(Motion(1, 40 * Ms, 1f), 0);
            var f = new MotionFrame();
            bool has; FrameMessage frame;
            p.PlayOut(0, 30 * Ms, f, out has, out frame);
            Assert.AreEqual(0.75f, f["jawOpen"], 1e-6);
        }

        [Test]
        public void FramesOnlyStreamsDriveTheClockWithFrames()
        {
            var p = new StreamPlayer(0, 80 * Ms, false);
            p.Handle(Frame(0, 500 * Ms), 0);
            p.Handle(Frame(1, 540 * Ms), 0);
            var f = new MotionFrame();
            bool has; FrameMessage frame;
            Assert.IsTrue(p.PlayOut(45 * Ms, null, f, out has, out frame));
            Assert.AreEqual(1UL, frame.Seq);
            p.PlayOut(46 * Ms, null, f, out has, out frame);
            Assert.IsNull(frame, "each frame is handed out once");
        }

        [Test]
        public void PtsJumpingBackFlushesAndPlaysTheNewSession()
        {
            var p = new StreamPlayer(0, 80 * Ms, true);
            var f = new MotionFrame();
            bool has; FrameMessage frame;
            for (int i = 0; i < 5; i++) p.Handle(Motion(i, 60000 * Ms + i * 40 * Ms, 0.1f), i * 40 * Ms);
            p.PlayOut(170 * Ms, null, f, out has, out frame);
            Assert.IsTrue(has);
            Assert.IsTrue(p.Handle(Motion(0, 0, 0.9f), 200 * Ms), "the runtime restarted: pts back to 0");
            Assert.AreEqual(1, p.Restarts);
            p.PlayOut(200 * Ms, null, f, out has, out frame);
            Assert.IsTrue(has);
            Assert.AreEqual(0.9f, f["jawOpen"], 1e-6);
        }

        [Test]
        public void HelloSequenceGoingBackIsARestart()
        {
            var p = new StreamPlayer(0, 80 * Ms, true);
            Assert.IsFalse(p.Handle(Hello(41), 0));
            Assert.IsFalse(p.Handle(Hello(42), 0));
            Assert.IsTrue(p.Handle(Hello(0), 0));
        }

        [Test]
        public void OutOfRangeMotionIsCountedAndDropped()
        {
            var p = new StreamPlayer(0, 80 * Ms, true);
            p.Handle(Motion(0, 0, 2f), 0);
            Assert.AreEqual(1, p.BadMotion);
            StringAssert.Contains("jawOpen is 2", p.LastBadMotion);
            Assert.AreEqual(0, p.Motion.Buffer.Count);
        }
    }
}
