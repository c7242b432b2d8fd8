// Decoder rules beyond the fixtures: number types, ranges, stream ids, caps, unknown keys.
using System;
using System.Collections.Generic;
using System.Text;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class DecoderTests
    {
        static Dictionary<string, object> Common(string stream = "default")
        {
            return new Dictionary<string, object> { { "v", 1L }, { "seq", 0L }, { "stream", stream }, { "pts", 0L }, { "sent", 0L } };
        }

        static List<byte[]> Parts(string topic, Dictionary<string, object> header, byte[] payload)
        {
            return new List<byte[]> { Encoding.ASCII.GetBytes(topic), new MsgPackWriter().WriteValue(header).ToArray(), payload };
        }

        static Dictionary<string, object> MotionHeader()
        {
            var h = Common();
            h["names"] = new List<object> { "jawOpen", "someFutureShape" };
            h["head_rotation"] = new List<object> { 1L, 2.5, -3L };
            h["head_translation"] = new List<object> { 0.0, 0.0, 0.0 };
            h["a_key_from_a_later_minor_revision"] = new Dictionary<string, object> { { "x", 1L } };
            return h;
        }

        static byte[] Floats(params float[] v)
        {
            var b = new byte[v.Length * 4];
            Buffer.BlockCopy(v, 0, b, 0, b.Length);
            return b;
        }

        [Test]
        public void MotionAcceptsIntsAndFloatsAndSkipsUnknownNamesAndKeys()
        {
            var m = (MotionMessage)WireDecoder.Decode(Parts("motion/default/", MotionHeader(), Floats(0.5f, 0.9f)));
            Assert.AreEqual(2.5, m.HeadRotation.Y);
            Assert.AreEqual(-3.0, m.HeadRotation.Z);
            var f = m.ToMotionFrame();
            Assert.AreEqual(0.5f, f["jawOpen"]);
            float sum = 0;
            foreach (var v in f.Blendshapes) sum += v;
            Assert.AreEqual(0.5f, sum);  // someFutureShape went nowhere
        }

        [Test]
        public void MotionValuesOutOfRangeAreRefusedWhenBuildingTheFrame()
        {
            var m = (MotionMessage)WireDecoder.Decode(Parts("motion/default/", MotionHeader(), Floats(1.5f, 0f)));
            StringAssert.Contains("jawOpen", Assert.Throws<ProtocolException>(() => m.ToMotionFrame()).Message);
            m = (MotionMessage)WireDecoder.Decode(Parts("motion/default/", MotionHeader(), Floats(float.NaN, 0f)));
            Assert.Throws<ProtocolException>(() => m.ToMotionFrame());
            var h = MotionHeader();
            h["head_rotation"] = new List<object> { 0L, 200L, 0L };  // radians/degrees mix-ups
            m = (MotionMessage)WireDecoder.Decode(Parts("motion/default/", h, Floats(0f, 0f)));
            StringAssert.Contains("head_rotation[1] is 200", Assert.Throws<ProtocolException>(() => m.ToMotionFrame()).Message);
        }

        [Test]
        public void WrongTypesAreRefusedNamingFieldAndValue()
        {
            var h = MotionHeader(); h["v"] = 1.0;
            StringAssert.Contains("'v'", Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0)))).Message);
            h = MotionHeader(); h["seq"] = true;
            StringAssert.Contains("true (bool)", Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0)))).Message);
            h = MotionHeader(); h["head_rotation"] = new List<object> { 1L, 2L };
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0))));
            h = MotionHeader(); h["head_rotation"] = new List<object> { 1L, true, 2L };
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0))));
            h = MotionHeader(); h["names"] = new List<object> { "jawOpen", 3L };
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0))));
            h = MotionHeader(); h["pts"] = ulong.MaxValue;
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0))));
            h = MotionHeader(); h["stream"] = Encoding.ASCII.GetBytes("default");  // bin, not str
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0))));
        }

        [Test]
        public void SeqUsesTheFullUnsignedRange()
        {
            var h = MotionHeader(); h["seq"] = ulong.MaxValue;
            Assert.AreEqual(ulong.MaxValue, WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0))).Seq);
        }

        [Test]
        public void TopicsAndStreamIds()
        {
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default", MotionHeader(), Floats(0, 0))));
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/default/x/", MotionHeader(), Floats(0, 0))));
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("Motion/default/", MotionHeader(), Floats(0, 0))));
            var h = MotionHeader(); h["stream"] = "bad stream";
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/bad stream/", h, Floats(0, 0))));
            h = MotionHeader(); h["stream"] = "";
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion//", h, Floats(0, 0))));
            h = MotionHeader(); h["stream"] = new string('a', 65);
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("motion/" + new string('a', 65) + "/", h, Floats(0, 0))));
            var parts = Parts("motion/default/", MotionHeader(), Floats(0, 0));
            parts[0] = new byte[] { 0x6d, 0xff, 0x2f, 0x2f };
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(parts));
        }

        [Test]
        public void SubscriptionPrefixesKeepStreamIdsExact()
        {
            byte[] npc1 = Protocol.Subscription(MessageKind.Motion, "npc1");
            byte[] topic10 = Protocol.Topic(MessageKind.Motion, "npc10");
            bool prefix = true;
            for (int i = 0; i < npc1.Length; i++) prefix &= topic10[i] == npc1[i];
            Assert.IsFalse(prefix, "motion/npc1/ must not match npc10");
            Assert.AreEqual("frame/", Encoding.ASCII.GetString(Protocol.Subscription(MessageKind.Frame)));
            Assert.AreEqual("hello//", Encoding.ASCII.GetString(Protocol.Topic(MessageKind.Hello, "")));
            Assert.Throws<ArgumentException>(() => Protocol.Subscription(MessageKind.Motion, "no/slash"));
        }

        [Test]
        public void FrameStrideAndDimensions()
        {
            var h = Common();
            h["width"] = 2L; h["height"] = 1L; h["stride"] = 7L; h["format"] = "rgba8"; h["alpha"] = "straight";
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("frame/default/", h, new byte[7])));
            h["stride"] = 8L;
            Assert.AreEqual(2, ((FrameMessage)WireDecoder.Decode(Parts("frame/default/", h, new byte[8]))).Width);
            h["alpha"] = "linear";
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("frame/default/", h, new byte[8])));
            h["alpha"] = "straight"; h["width"] = 8193L; h["stride"] = 4L * 8193;
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("frame/default/", h, new byte[4 * 8193])));
        }

        [Test]
        public void AudioChannelsRateAndDeclaredSizeAgainstCap()
        {
            var h = Common();
            h["rate"] = 16000L; h["channels"] = 9L; h["format"] = "s16"; h["samples"] = 1L;
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("audio/default/", h, new byte[18])));
            h["channels"] = 1L; h["rate"] = 999L;
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("audio/default/", h, new byte[2])));
            h["rate"] = 16000L; h["samples"] = 1000000L;
            var e = Assert.Throws<MessageTooLargeException>(() => WireDecoder.Decode(Parts("audio/default/", h, new byte[2]), 4096));
            StringAssert.Contains("2000000-byte payload", e.Message);
        }

        [Test]
        public void EventAndHelloOptionalFields()
        {
            var h = Common(); h["name"] = "some_future_event";
            var ev = (EventMessage)WireDecoder.Decode(Parts("event/default/", h, new byte[0]));
            Assert.AreEqual("some_future_event", ev.Name);
            Assert.IsNull(ev.Text);
            h["data"] = "not a map";
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("event/default/", h, new byte[0])));
            h.Remove("data");
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("event/default/", h, new byte[1])));

            var hello = Common(""); hello["streams"] = new List<object>(); hello["capabilities"] = new List<object> { "motion" };
            hello["publisher"] = "test"; hello["fps"] = 30.0;
            var m = (HelloMessage)WireDecoder.Decode(Parts("hello//", hello, new byte[0]));
            Assert.AreEqual(30.0, m.Fps);
            Assert.IsNull(m.Control);
            hello["streams"] = new List<object> { 1L };
            Assert.Throws<ProtocolException>(() => WireDecoder.Decode(Parts("hello//", hello, new byte[0])));
        }

        [Test]
        public void OversizedHeaderIsTooLarge()
        {
            var h = MotionHeader(); h["padding"] = new string('x', 65000); h["more"] = new string('y', 1000);
            Assert.AreEqual("too_large", Assert.Throws<MessageTooLargeException>(
                () => WireDecoder.Decode(Parts("motion/default/", h, Floats(0, 0)))).Category);
        }
    }
}
