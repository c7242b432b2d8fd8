// Baked tracks without Unity: the JSON that `vasa-bridge bake` writes read by name, sampling at
// arbitrary times (interpolated like the live client, held at the ends), and clear errors.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class BakedTrackTests
    {
        /// <summary>A seeded track of n frames (values in range).</summary>
        public static BakedTrack RandomTrack(int n, double fps, int seed, double start = 0)
        {
            var rng = new Random(seed);
            var shapes = new float[n * 52];
            var rot = new float[n * 3];
            var tr = new float[n * 3];
            for (int i = 0; i < shapes.Length; i++) shapes[i] = (float)rng.NextDouble();
            for (int i = 0; i < rot.Length; i++) rot[i] = (float)(rng.NextDouble() * 50 - 25);
            for (int i = 0; i < tr.Length; i++) tr[i] = (float)(rng.NextDouble() * 0.06 - 0.03);
            return new BakedTrack(fps, start, shapes, rot, tr);
        }

        static string F(double v) { return v.ToString("R", CultureInfo.InvariantCulture); }
        static string F(float v) { return v.ToString("R", CultureInfo.InvariantCulture); }

        /// <summary>The document io.py writes, for the frames given, with the names given in that order.</summary>
        public static string Json(IList<string> names, IList<float[]> shapes, IList<float[]> rot, IList<float[]> tr, double fps,
                                  double start = 0, string extraFrameKey = "", bool times = true)
        {
            var sb = new StringBuilder();
            sb.Append("{\"format\": \"vasa-motion\", \"version\": 1, \"fps\": ").Append(F(fps)).Append(", \"start\": ").Append(F(start));
            sb.Append(", \"names\": [");
            for (int i = 0; i < names.Count; i++) sb.Append(i > 0 ? ", " : "").Append('"').Append(names[i]).Append('"');
            sb.Append("],\n \"frames\": [");
            for (int f = 0; f < shapes.Count; f++)
            {
                sb.Append(f > 0 ? ",\n  " : "\n  ").Append('{');
                if (times) sb.Append("\"time\": ").Append(F(Math.Round(start + f / fps, 6))).Append(", ");
                sb.Append(extraFrameKey);
                sb.Append("\"blendshapes\": [");
                for (int i = 0; i < shapes[f].Length; i++) sb.Append(i > 0 ? ", " : "").Append(F(shapes[f][i]));
                sb.Append("], \"head_rotation\": [").Append(F(rot[f][0])).Append(", ").Append(F(rot[f][1])).Append(", ").Append(F(rot[f][2]));
                sb.Append("], \"head_translation\": [").Append(F(tr[f][0])).Append(", ").Append(F(tr[f][1])).Append(", ").Append(F(tr[f][2])).Append("]}");
            }
            sb.Append("\n]}");
            return sb.ToString();
        }

        public static string TwoFrames(string[] names, float[] a, float[] b, double fps = 25)
        {
            return Json(names, new[] { a, b }, new[] { new float[] { 10, -20, 5 }, new float[] { -15, 30, -10 } },
                        new[] { new float[] { 0, 0.01f, 0 }, new float[] { 0.02f, 0, -0.01f } }, fps);
        }

        [Test]
        public void NamesMapValuesWhateverTheirOrderAndMissingNamesStayZero()
        {
            var t = BakedTrackJson.Parse(TwoFrames(new[] { "tongueOut", "jawOpen", "eyeBlinkLeft" },
                                                   new[] { 0.1f, 0.5f, 0.9f }, new[] { 0.3f, 0.7f, 0.2f }));
            Assert.AreEqual(2, t.FrameCount);
            Assert.AreEqual(25.0, t.Fps);
            Assert.AreEqual(0.5f, t.Blendshape(0, ArkitNames.IndexOf("jawOpen")));
            Assert.AreEqual(0.1f, t.Blendshape(0, ArkitNames.IndexOf("tongueOut")));
            Assert.AreEqual(0.9f, t.Blendshape(0, ArkitNames.IndexOf("eyeBlinkLeft")));
            Assert.AreEqual(0.2f, t.Blendshape(1, ArkitNames.IndexOf("eyeBlinkLeft")));
            Assert.AreEqual(0f, t.Blendshape(1, ArkitNames.IndexOf("mouthClose")), "a name the file does not give is 0");
            Assert.AreEqual(-20.0, t.HeadRotation(0).Y, 1e-6);
            Assert.AreEqual(-0.01, t.HeadTranslation(1).Z, 1e-7);
        }

        [Test]
        public void UnknownKeysAreSkippedAndAnyKeyOrderReads()
        {
            string doc = "{\"frames\": [{\"blendshapes\": [0.25], \"extra\": {\"a\": [1, {\"b\": null}], \"c\": \"x\\\"y\"}, "
                         + "\"head_translation\": [0, 0, 0], \"head_rotation\": [1, 2, 3]}],"
                         + " \"producer\": true, \"names\": [\"jawOpen\"], \"fps\": 30, \"version\": 1, \"format\": \"vasa-motion\"}";
            var t = BakedTrackJson.Parse(doc);
            Assert.AreEqual(1, t.FrameCount);
            Assert.AreEqual(30.0, t.Fps);
            Assert.AreEqual(0.0, t.Start, "start defaults to 0 as in io.py");
            Assert.AreEqual(0.25f, t.Blendshape(0, ArkitNames.IndexOf("jawOpen")));
            Assert.AreEqual(3.0, t.HeadRotation(0).Z, 1e-9);
        }

        [Test]
        public void SamplingAtFrameTimesGivesTheFramesAndBetweenThemInterpolatesLikeTheLiveClient()
        {
            var track = RandomTrack(12, 25, 3, start: 2.0);
            var got = new MotionFrame();
            var a = new MotionFrame();
            var b = new MotionFrame();
            var expected = new MotionFrame();
            for (int i = 0; i < track.FrameCount; i++)
            {
                track.Sample(i / 25.0, got);
                for (int k = 0; k < 52; k++) Assert.AreEqual(track.Blendshape(i, k), got.Blendshapes[k], 1e-6, "frame " + i);
                Assert.AreEqual(track.HeadRotation(i).Y, got.HeadRotation.Y, 1e-5);
                Assert.AreEqual((long)Math.Round((2.0 + i / 25.0) * 1e9), got.Pts);
            }
            var rng = new Random(11);
            for (int n = 0; n < 50; n++)
            {
                double s = rng.NextDouble() * track.LastFrameTime;
                int i = (int)Math.Floor(s * 25);
                double frac = s * 25 - i;
                track.GetFrame(i, a);
                track.GetFrame(Math.Min(i + 1, track.FrameCount - 1), b);
                MotionFrame.Interpolate(a, b, frac, expected);  // the live path's interpolation
                track.Sample(s, got);
                for (int k = 0; k < 52; k++) Assert.AreEqual(expected.Blendshapes[k], got.Blendshapes[k], 1e-5, "t=" + s + " shape " + k);
                for (int c = 0; c < 3; c++)
                {
                    Assert.AreEqual(expected.HeadRotation[c], got.HeadRotation[c], 1e-4, "t=" + s + " rotation " + c);
                    Assert.AreEqual(expected.HeadTranslation[c], got.HeadTranslation[c], 1e-7, "t=" + s + " translation " + c);
                }
                Assert.AreEqual(expected.Pts, got.Pts, 2, "pts of t=" + s);
            }
        }

        [Test]
        public void HalfwayIsTheMeanOfShapesAndTranslation()
        {
            var t = BakedTrackJson.Parse(TwoFrames(new[] { "jawOpen" }, new[] { 0.2f }, new[] { 0.6f }));
            var f = new MotionFrame();
            t.Sample(0.02, f);
            Assert.AreEqual(0.4f, f["jawOpen"], 1e-6);
            Assert.AreEqual(0.01, f.HeadTranslation.X, 1e-7);
            Assert.AreEqual(0.005, f.HeadTranslation.Y, 1e-7);
        }

        [Test]
        public void BeforeTheFirstAndAfterTheLastFrameTheEndFramesHold()
        {
            var t = BakedTrackJson.Parse(TwoFrames(new[] { "jawOpen" }, new[] { 0.2f }, new[] { 0.6f }));
            var f = new MotionFrame();
            foreach (double s in new[] { -5.0, -0.001, double.NaN, double.NegativeInfinity })
            {
                t.Sample(s, f);
                Assert.AreEqual(0.2f, f["jawOpen"], "t=" + s);
                Assert.AreEqual(10.0, f.HeadRotation.X, 1e-4);
                Assert.AreEqual(0L, f.Pts);
            }
            foreach (double s in new[] { 0.04, 0.0401, 1.0, 1e9, double.PositiveInfinity })
            {
                t.Sample(s, f);
                Assert.AreEqual(0.6f, f["jawOpen"], "t=" + s);
                Assert.AreEqual(-15.0, f.HeadRotation.X, 1e-4);
                Assert.AreEqual(40000000L, f.Pts);
            }
            Assert.AreEqual(0.08, t.Duration, 1e-12, "duration is frames / fps, as MotionTrack.duration");
        }

        [Test]
        public void OneFrameTrackSamplesToThatFrameEverywhere()
        {
            var t = new BakedTrack(25, 0, new float[52], new float[] { 1, 2, 3 }, new float[3]);
            var f = new MotionFrame();
            t.Sample(0.5, f);
            Assert.AreEqual(2.0, f.HeadRotation.Y, 1e-9);
        }

        static void Refused(string doc, string fragment)
        {
            var e = Assert.Throws<TrackFormatException>(() => BakedTrackJson.Parse(doc));
            StringAssert.Contains(fragment, e.Message);
            Assert.IsFalse(e.Message.Contains("\n"), "one line: " + e.Message);
        }

        [Test]
        public void BadDocumentsAreRefusedNamingTheValueAndWhatWasExpected()
        {
            string good = TwoFrames(new[] { "jawOpen" }, new[] { 0.2f }, new[] { 0.6f });
            BakedTrackJson.Parse(good);
            Refused(good.Replace("vasa-motion", "vasa-video"), "format is 'vasa-video': expected 'vasa-motion'");
            Refused(good.Replace("\"version\": 1", "\"version\": 2"), "version is 2: expected 1");
            Refused(good.Replace("\"version\": 1,", ""), "version is missing: expected 1");
            Refused(good.Replace("\"fps\": 25,", ""), "fps is missing");
            Refused(good.Replace("\"fps\": 25", "\"fps\": 0"), "fps is 0: expected a number in (0, 1000]");
            Refused(good.Replace("\"fps\": 25", "\"fps\": \"fast\""), "fps is 'fast': expected a number");
            Refused(good.Replace("\"jawOpen\"", "\"JawOpen\""), "names[0] is 'JawOpen': expected an ARKit name");
            Refused(TwoFrames(new[] { "jawOpen", "jawOpen" }, new[] { 0.2f, 0.1f }, new[] { 0.6f, 0.1f }), "names[1] 'jawOpen' appears twice");
            Refused(TwoFrames(new[] { "jawOpen", "tongueOut" }, new[] { 0.2f }, new[] { 0.6f }), "frame 0 has 1 blendshapes: expected 2 (one per name)");
            Refused(TwoFrames(new[] { "jawOpen" }, new[] { 0.2f }, new[] { 1.5f }), "blendshape jawOpen is 1.5 at frame 1: expected a number in [0, 1]");
            Refused(good.Replace("\"head_rotation\": [10, -20, 5]", "\"head_rotation\": [10, -200, 5]"), "head rotation y is -200 at frame 0");
            Refused(good.Replace("\"head_rotation\": [10, -20, 5]", "\"head_rotation\": [10, -20]"), "frame 0 has 2 head_rotation values: expected 3");
            Refused(good.Replace("\"head_rotation\": [10, -20, 5], ", ""), "frame 0 lacks head_rotation");
            Refused(good.Replace("\"time\": 0.04", "\"time\": 0.1"), "frame 1 has time 0.1: expected 0.04");
            Refused(good.Replace("\"frames\": [", "\"frames\": [] , \"x\": ["), "frames is missing or empty");
            Refused(good.Replace("0.6]", "0.6,]"), "frame 1 blendshapes[1] is ']': expected a number");
            Refused(good.Replace("\"fps\": 25", "\"fps\" 25"), "not valid JSON at line 1 column 47: found '2', expected ':' after key 'fps'");
            Refused(good + "x", "expected the end of the document");
            Refused(good.Substring(0, good.Length - 5), "not valid JSON");
            Refused("[]", "expected '{' to open the document");
            Refused(good.Replace("0.6]", "NaN]"), "expected a number");
        }

        [Test]
        public void HostileDocumentsAreRefusedAsTrackErrorsNamingTheValue()
        {
            string good = TwoFrames(new[] { "jawOpen" }, new[] { 0.2f }, new[] { 0.6f });
            // An unknown key holding a value nested a million deep: refused, not a stack overflow
            // (which escapes the importer's catch and can take the editor down).
            const int deep = 1000000;
            string nested = new string('[', deep) + new string(']', deep);
            Refused(good.Replace("\"fps\": 25", "\"x\": " + nested + ", \"fps\": 25"),
                    "a value nests deeper than 64 levels at line 1 column");
            Refused(good.Replace("\"head_rotation\"", "\"x\": {\"a\": " + new string('[', deep) + ", \"head_rotation\""),
                    "nests deeper than 64 levels");
            BakedTrackJson.Parse(good.Replace("\"fps\": 25", "\"x\": " + new string('[', 60) + new string(']', 60) + ", \"fps\": 25"));
            // A version past the 64-bit range is named as written, not as the cast's wrapped value.
            Refused(good.Replace("\"version\": 1", "\"version\": 1e30"), "version is 1E+30: expected an integer");
            // An fps out of range is named as such, not as frame 1's time disagreeing with it.
            Refused(good.Replace("\"fps\": 25", "\"fps\": 1e308"), "fps is 1E+308: expected a number in (0, 1000]");
            Refused(good.Replace("\"fps\": 25", "\"fps\": 5000"), "fps is 5000: expected a number in (0, 1000]");
            Refused(good.Replace("\"fps\": 25", "\"fps\": -25"), "fps is -25: expected a number in (0, 1000]");
        }

        [Test]
        public void TheConstructorRefusesInconsistentArrays()
        {
            var e = Assert.Throws<TrackFormatException>(() => new BakedTrack(25, 0, new float[53], new float[3], new float[3]));
            StringAssert.Contains("blendshapes has 53 values", e.Message);
            e = Assert.Throws<TrackFormatException>(() => new BakedTrack(25, 0, new float[104], new float[3], new float[6]));
            StringAssert.Contains("headRotation has 3 values: expected 6", e.Message);
            e = Assert.Throws<TrackFormatException>(() => new BakedTrack(25, 0, new float[52], new float[3], new float[] { 0, 11, 0 }));
            StringAssert.Contains("head translation y is 11 at frame 0", e.Message);
        }

        [Test]
        public void CopiesRoundTripThroughTheConstructor()
        {
            var t = RandomTrack(7, 30, 9, 1.5);
            var u = new BakedTrack(t.Fps, t.Start, t.CopyBlendshapes(), t.CopyHeadRotation(), t.CopyHeadTranslation());
            var a = new MotionFrame();
            var b = new MotionFrame();
            for (double s = -0.1; s < 0.4; s += 0.013)
            {
                t.Sample(s, a);
                u.Sample(s, b);
                CollectionAssert.AreEqual(a.Blendshapes, b.Blendshapes);
                Assert.AreEqual(a.HeadRotation.X, b.HeadRotation.X, 1e-5);
                Assert.AreEqual(a.Pts, b.Pts);
            }
        }
    }
}
