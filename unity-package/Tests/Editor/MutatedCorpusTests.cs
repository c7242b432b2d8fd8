// The mutated corpus (tests/fixtures/protocol/mutated, made by vasa_bridge/protocol/corpus.py):
// thousands of damaged messages, each with the Python decoder's verdict. This decoder must give
// the same verdict, formatted the same way, on every one (the C suite checks the same file).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class MutatedCorpusTests
    {
        static string Fnv(IEnumerable<string> strings)
        {
            uint h = 0x811C9DC5;
            foreach (var s in strings)
            {
                foreach (byte b in Encoding.UTF8.GetBytes(s)) h = unchecked((h ^ b) * 0x01000193);
                h = unchecked(h * 0x01000193);  // each string ends with a 0 byte
            }
            return h.ToString("x8");
        }

        static string F64(double v)
        {
            if (double.IsNaN(v)) return "nan";
            return BitConverter.DoubleToInt64Bits(v).ToString("x16");
        }

        static string Vec(Vec3 v) { return F64(v.X) + "," + F64(v.Y) + "," + F64(v.Z); }

        /// <summary>The line vasa_bridge/protocol/corpus.py `verdict` writes.</summary>
        public static string Verdict(IList<byte[]> parts)
        {
            Message m;
            try { m = WireDecoder.Decode(parts); }
            catch (ProtocolException e) { return "error " + e.Category; }
            var line = new StringBuilder();
            line.Append("ok ").Append(Protocol.KindName(m.Kind)).Append(' ')
                .Append(m.Stream.Length > 0 ? m.Stream : "-")
                .Append(" seq=").Append(m.Seq.ToString(CultureInfo.InvariantCulture))
                .Append(" pts=").Append(m.Pts.ToString(CultureInfo.InvariantCulture))
                .Append(" sent=").Append(m.Sent.ToString(CultureInfo.InvariantCulture));
            var motion = m as MotionMessage;
            var frame = m as FrameMessage;
            var audio = m as AudioMessage;
            var ev = m as EventMessage;
            var hello = m as HelloMessage;
            if (motion != null)
                line.Append(" n=").Append(motion.Names.Length).Append(" names=").Append(Fnv(motion.Names))
                    .Append(" rot=").Append(Vec(motion.HeadRotation)).Append(" trans=").Append(Vec(motion.HeadTranslation));
            else if (frame != null)
                line.Append(' ').Append(frame.Width).Append('x').Append(frame.Height).Append(" stride=").Append(frame.Stride)
                    .Append(frame.Format == PixelFormat.Rgba8 ? " rgba8" : " bgra8")
                    .Append(frame.Alpha == AlphaMode.Straight ? " straight" : " premultiplied");
            else if (audio != null)
                line.Append(" rate=").Append(audio.Rate).Append(" ch=").Append(audio.Channels)
                    .Append(audio.Format == SampleFormat.S16 ? " s16" : " f32").Append(" samples=").Append(audio.Samples);
            else if (ev != null)
                line.Append(" name=").Append(Fnv(new[] { ev.Name }))
                    .Append(" message=").Append(ev.Text != null ? Fnv(new[] { ev.Text }) : "-")
                    .Append(" data=").Append(m.Header.ContainsKey("data") ? "yes" : "no");
            else if (hello != null)
                line.Append(" streams=").Append(hello.Streams.Length).Append(" caps=").Append(hello.Capabilities.Length)
                    .Append(" publisher=").Append(Fnv(new[] { hello.Publisher }));
            return line.ToString();
        }

        /// <summary>u32 LE message count, then each message framed as a golden fixture.</summary>
        static List<List<byte[]>> ReadCorpus(string path)
        {
            byte[] data = File.ReadAllBytes(path);
            int count = BitConverter.ToInt32(data, 0), pos = 4;
            var messages = new List<List<byte[]>>(count);
            for (int k = 0; k < count; k++)
                messages.Add(TestFiles.ReadParts(data, ref pos));
            Assert.AreEqual(data.Length, pos, "trailing bytes in " + path);
            return messages;
        }

        /// <summary>Every valid golden fixture with each part cut to every shorter length and each
        /// bit of its topic and header flipped (as the C suite's --mutate): only ProtocolException
        /// comes out, always with a reason, and no shortened message is accepted.</summary>
        [Test]
        public void TruncatedAndBitFlippedFixturesOnlyRaiseProtocolErrors()
        {
            int tried = 0, accepted = 0, truncated = 0;
            foreach (string name in FixtureTests.Valid)
            {
                var parts = TestFiles.ReadParts(Path.Combine(TestFiles.FixtureDir(), name));
                for (int p = 0; p < parts.Count; p++)
                {
                    for (int len = 0; len < parts[p].Length; len++)
                    {
                        var copy = new List<byte[]>(parts);
                        var cut = new byte[len];
                        Buffer.BlockCopy(parts[p], 0, cut, 0, len);
                        copy[p] = cut;
                        Assert.IsFalse(DecodesWithoutCrash(copy), name + " part " + p + " cut to " + len + " bytes was accepted");
                        truncated++;
                        tried++;
                    }
                    if (p == 2) continue;
                    for (int bit = 0; bit < parts[p].Length * 8; bit++)
                    {
                        var copy = new List<byte[]>(parts);
                        var flipped = (byte[])parts[p].Clone();
                        flipped[bit / 8] ^= (byte)(1 << (bit % 8));
                        copy[p] = flipped;
                        if (DecodesWithoutCrash(copy)) accepted++;
                        tried++;
                    }
                }
            }
            Console.WriteLine("mutated messages: " + tried + " decoded without a crash (" + accepted + " still valid, "
                              + (tried - accepted) + " refused; " + truncated + " truncations, all refused)");
            Assert.Greater(tried, 10000);
        }

        static bool DecodesWithoutCrash(IList<byte[]> parts)
        {
            try { WireDecoder.Decode(parts); return true; }
            catch (ProtocolException e)
            {
                Assert.IsNotEmpty(e.Message);
                return false;
            }
        }

        [Test]
        public void EveryMutatedMessageGetsThePythonVerdict()
        {
            string dir = Path.Combine(TestFiles.FixtureDir(), "mutated");
            var messages = ReadCorpus(Path.Combine(dir, "corpus.bin"));
            string[] expected = File.ReadAllLines(Path.Combine(dir, "expected.txt"));
            Assert.AreEqual(expected.Length, messages.Count, "one verdict per message");
            Assert.Greater(messages.Count, 3000);
            int differ = 0, accepted = 0;
            var shown = new StringBuilder();
            for (int k = 0; k < messages.Count; k++)
            {
                string got = Verdict(messages[k]);
                if (got.StartsWith("ok")) accepted++;
                if (got == expected[k]) continue;
                if (++differ <= 10)
                    shown.Append("\nmessage ").Append(k).Append(":\n  python: ").Append(expected[k])
                         .Append("\n  c#:     ").Append(got);
            }
            Console.WriteLine("mutated corpus: " + messages.Count + " messages decoded without a crash, "
                              + (messages.Count - differ) + " agree with Python, " + differ + " differ ("
                              + accepted + " accepted, " + (messages.Count - accepted) + " refused)");
            Assert.AreEqual(0, differ, differ + " of " + messages.Count + " messages decoded differently:" + shown);
        }
    }
}
