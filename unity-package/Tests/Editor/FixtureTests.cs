// Every golden fixture in tests/fixtures/protocol decodes to expected.json's values; every
// malformed one is refused with the expected category (the Python and C decoders read the same files).
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class FixtureTests
    {
        static Dictionary<string, object> expected;

        static Dictionary<string, object> Expected()
        {
            if (expected == null)
                expected = (Dictionary<string, object>)Json.Parse(File.ReadAllText(Path.Combine(TestFiles.FixtureDir(), "expected.json")));
            return expected;
        }

        // Listed here (not read from disk) so a fixture that disappears fails instead of vanishing.
        public static IEnumerable Valid = new[]
        {
            "motion.bin", "motion_reordered.bin", "frame_rgba.bin", "frame_bgra_stride.bin",
            "audio_s16.bin", "audio_f32_stereo.bin", "event.bin", "hello.bin",
        };

        public static IEnumerable Malformed = new[]
        {
            "malformed_audio_bad_format.bin", "malformed_frame_bad_format.bin", "malformed_frame_huge.bin",
            "malformed_frame_short_payload.bin", "malformed_frame_width_string.bin", "malformed_header_not_map.bin",
            "malformed_missing_seq.bin", "malformed_motion_short_payload.bin", "malformed_negative_seq.bin",
            "malformed_random_bytes.bin", "malformed_stream_mismatch.bin", "malformed_truncated_header.bin",
            "malformed_two_parts.bin", "malformed_unknown_kind.bin", "malformed_version.bin",
        };

        [Test]
        public void EveryFixtureOnDiskIsListed()
        {
            var listed = new HashSet<string>();
            foreach (string n in Valid) listed.Add(n);
            foreach (string n in Malformed) listed.Add(n);
            foreach (var path in Directory.GetFiles(TestFiles.FixtureDir(), "*.bin"))
                Assert.IsTrue(listed.Contains(Path.GetFileName(path)), Path.GetFileName(path) + " has no C# test");
            foreach (var name in listed)
                Assert.IsTrue(Expected().ContainsKey(name), name + " missing from expected.json");
        }

        static Message DecodeFixture(string name)
        {
            return WireDecoder.Decode(TestFiles.ReadParts(Path.Combine(TestFiles.FixtureDir(), name)));
        }

        [TestCaseSource("Valid")]
        public void DecodesToExpectedValues(string name)
        {
            var exp = (Dictionary<string, object>)Expected()[name];
            var m = DecodeFixture(name);
            Assert.AreEqual((string)exp["kind"], Protocol.KindName(m.Kind));
            Assert.AreEqual((string)exp["stream"], m.Stream);
            Assert.AreEqual((ulong)(long)exp["seq"], m.Seq);
            Assert.AreEqual((long)exp["pts"], m.Pts);
            Assert.AreEqual((long)exp["sent"], m.Sent);
            switch (m.Kind)
            {
                case MessageKind.Motion: CheckMotion((MotionMessage)m, exp); break;
                case MessageKind.Frame: CheckFrame((FrameMessage)m, exp); break;
                case MessageKind.Audio: CheckAudio((AudioMessage)m, exp); break;
                case MessageKind.Event: CheckEvent((EventMessage)m, exp); break;
                case MessageKind.Hello: CheckHello((HelloMessage)m, exp); break;
            }
        }

        static void CheckMotion(MotionMessage m, Dictionary<string, object> exp)
        {
            var shapes = (Dictionary<string, object>)exp["blendshapes"];
            var frame = m.ToMotionFrame();
            for (int k = 0; k < ArkitNames.Count; k++)
            {
                string n = ArkitNames.Get(k);
                double want = shapes.ContainsKey(n) ? TestFiles.Num(shapes[n]) : 0.0;
                Assert.AreEqual(want, frame.Blendshapes[k], 1e-7, n);
            }
            var rot = (List<object>)exp["head_rotation"];
            var tr = (List<object>)exp["head_translation"];
            for (int i = 0; i < 3; i++)
            {
                Assert.AreEqual(TestFiles.Num(rot[i]), frame.HeadRotation[i], 1e-5, "head_rotation " + i);  // sent as float32 values
                Assert.AreEqual(TestFiles.Num(tr[i]), frame.HeadTranslation[i], 1e-8, "head_translation " + i);
            }
            Assert.AreEqual(m.Pts, frame.Pts);
        }

        static void CheckFrame(FrameMessage m, Dictionary<string, object> exp)
        {
            Assert.AreEqual((long)exp["width"], m.Width);
            Assert.AreEqual((long)exp["height"], m.Height);
            Assert.AreEqual((long)exp["stride"], m.Stride);
            Assert.AreEqual((string)exp["format"], m.Format == PixelFormat.Rgba8 ? "rgba8" : "bgra8");
            Assert.AreEqual((string)exp["alpha"], m.Alpha == AlphaMode.Straight ? "straight" : "premultiplied");
            var pixels = (List<object>)exp["pixels"];
            var got = m.PackedPixels();
            Assert.AreEqual(pixels.Count, got.Length);
            for (int i = 0; i < got.Length; i++) Assert.AreEqual((long)pixels[i], got[i], "byte " + i);
        }

        static void CheckAudio(AudioMessage m, Dictionary<string, object> exp)
        {
            Assert.AreEqual((long)exp["rate"], m.Rate);
            Assert.AreEqual((long)exp["channels"], m.Channels);
            Assert.AreEqual((string)exp["format"], m.Format == SampleFormat.S16 ? "s16" : "f32");
            Assert.AreEqual((long)exp["samples"], m.Samples);
            var values = (List<object>)exp["values"];
            var floats = new float[m.Samples * m.Channels];
            m.ReadFloats(floats);
            Assert.AreEqual(values.Count, floats.Length);
            if (m.Format == SampleFormat.S16)
            {
                var raw = m.ReadInt16();
                for (int i = 0; i < raw.Length; i++)
                {
                    Assert.AreEqual((long)values[i], raw[i], "sample " + i);
                    Assert.AreEqual((long)values[i] / 32768.0, floats[i], 1e-9, "float sample " + i);
                }
            }
            else
                for (int i = 0; i < floats.Length; i++) Assert.AreEqual(TestFiles.Num(values[i]), floats[i], 1e-9, "sample " + i);
        }

        static void CheckEvent(EventMessage m, Dictionary<string, object> exp)
        {
            Assert.AreEqual((string)exp["name"], m.Name);
            Assert.AreEqual((string)exp["message"], m.Text);
            var data = (Dictionary<string, object>)exp["data"];
            Assert.AreEqual(data.Count, m.Data.Count);
            foreach (var kv in data)
            {
                if (kv.Value is string) Assert.AreEqual(kv.Value, m.Data[kv.Key]);
                else Assert.AreEqual(TestFiles.Num(kv.Value), TestFiles.Num(m.Data[kv.Key]), 1e-12, kv.Key);
            }
        }

        static void CheckHello(HelloMessage m, Dictionary<string, object> exp)
        {
            CollectionAssert.AreEqual(((List<object>)exp["streams"]).ConvertAll(x => (string)x), m.Streams);
            CollectionAssert.AreEqual(((List<object>)exp["capabilities"]).ConvertAll(x => (string)x), m.Capabilities);
            Assert.AreEqual((string)exp["publisher"], m.Publisher);
        }

        [TestCaseSource("Malformed")]
        public void MalformedIsRefusedWithItsCategory(string name)
        {
            var exp = (Dictionary<string, object>)Expected()[name];
            string category = (string)exp["error"];
            try
            {
                DecodeFixture(name);
                Assert.Fail(name + " decoded: expected a " + category + " error");
            }
            catch (ProtocolException e)
            {
                Assert.AreEqual(category, e.Category, name + ": " + e.Message);
                Assert.IsFalse(string.IsNullOrEmpty(e.Message));
            }
        }

        [Test]
        public void VersionErrorNamesBothVersions()
        {
            var e = Assert.Throws<ProtocolVersionException>(() => DecodeFixture("malformed_version.bin"));
            StringAssert.Contains("version 2", e.Message);
            StringAssert.Contains("version 1", e.Message);
            Assert.AreEqual(2, e.Received);
        }

        [Test]
        public void ReorderedNamesMapByName()
        {
            var m = (MotionMessage)DecodeFixture("motion_reordered.bin");
            Assert.AreEqual("tongueOut", m.Names[0]);  // reversed on the wire
            Assert.AreEqual(0.75f, m.ToMotionFrame()["jawOpen"]);
            Assert.AreEqual(0.75f, m.Get("jawOpen").Value);
        }

        [Test]
        public void ReceiverCapRefusesFixtureAsTooLarge()
        {
            var parts = TestFiles.ReadParts(Path.Combine(TestFiles.FixtureDir(), "frame_rgba.bin"));
            int total = parts[0].Length + parts[1].Length + parts[2].Length;
            Assert.AreEqual("too_large", Assert.Throws<MessageTooLargeException>(() => WireDecoder.Decode(parts, total - 1)).Category);
            Assert.IsNotNull(WireDecoder.Decode(parts, total));
        }
    }
}
