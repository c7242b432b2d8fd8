// The importer's parser on files Python writes: Tests/Mono~/make_baked.py bakes a short voice line
// with `vasa-bridge bake -o line.vasatrack` (and saves line.json) at CI time; the C# side must read
// the same frames Python reads back, sample between them as Python's interpolate does, and export
// a clip whose keys are those frames.
using System;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class BakedFixtureTests
    {
        static string Dir()
        {
            string dir = Environment.GetEnvironmentVariable("VASA_BRIDGE_BAKED");
            if (string.IsNullOrEmpty(dir)) Assert.Ignore("VASA_BRIDGE_BAKED is not set (the CI script bakes the fixtures with Python)");
            if (!File.Exists(Path.Combine(dir, "reference.json"))) Assert.Fail("VASA_BRIDGE_BAKED is " + dir + ": expected make_baked.py's output there");
            return dir;
        }

        static Dictionary<string, object> Reference() { return (Dictionary<string, object>)Json.Parse(File.ReadAllText(Path.Combine(Dir(), "reference.json"))); }

        static List<object> Rows(Dictionary<string, object> d, string key) { return (List<object>)d[key]; }

        static double At(object row, int i) { return TestFiles.Num(((List<object>)row)[i]); }

        [Test]
        public void TheBakedFilesReadAsPythonReadsThem()
        {
            var reference = Reference();
            foreach (var name in new[] { "line.vasatrack", "line.json" })
            {
                var track = BakedTrackJson.Parse(File.ReadAllText(Path.Combine(Dir(), name)));
                Assert.AreEqual(TestFiles.Num(reference["frames"]), track.FrameCount, name);
                Assert.AreEqual(TestFiles.Num(reference["fps"]), track.Fps, name);
                Assert.AreEqual(TestFiles.Num(reference["start"]), track.Start, name);
                var shapes = Rows(reference, "blendshapes");
                var rot = Rows(reference, "head_rotation");
                var tr = Rows(reference, "head_translation");
                double jawRange = 0;
                for (int i = 0; i < track.FrameCount; i++)
                {
                    for (int k = 0; k < 52; k++) Assert.AreEqual(At(shapes[i], k), track.Blendshape(i, k), 1e-6, name + " frame " + i + " " + ArkitNames.Get(k));
                    for (int c = 0; c < 3; c++)
                    {
                        Assert.AreEqual(At(rot[i], c), track.HeadRotation(i)[c], 1e-4, name + " rotation frame " + i);
                        Assert.AreEqual(At(tr[i], c), track.HeadTranslation(i)[c], 1e-6, name + " translation frame " + i);
                    }
                    jawRange = Math.Max(jawRange, track.Blendshape(i, ArkitNames.IndexOf("jawOpen")));
                }
                Assert.Greater(jawRange, 0.05, "the baked line moves the jaw (a real bake, not zeros)");
            }
        }

        [Test]
        public void TheCompactBinaryReadsAsTheJsonWithinItsQuantisation()
        {
            var json = BakedTrackJson.Parse(File.ReadAllText(Path.Combine(Dir(), "line.vasatrack")));
            var bin = BakedTrackBinary.Parse(File.ReadAllBytes(Path.Combine(Dir(), "line.vasab")));
            Assert.AreEqual(json.FrameCount, bin.FrameCount);
            Assert.AreEqual(json.Fps, bin.Fps);
            Assert.AreEqual(json.Start, bin.Start);
            double worst = 0;
            for (int i = 0; i < json.FrameCount; i++)
            {
                for (int k = 0; k < 52; k++) worst = Math.Max(worst, Math.Abs(json.Blendshape(i, k) - bin.Blendshape(i, k)));
                for (int c = 0; c < 3; c++)
                {
                    Assert.AreEqual(json.HeadRotation(i)[c], bin.HeadRotation(i)[c], 0, "rotation is stored as float32");
                    Assert.AreEqual(json.HeadTranslation(i)[c], bin.HeadTranslation(i)[c], 0);
                }
            }
            Assert.LessOrEqual(worst, 0.5 / 65535 + 1e-7, "16-bit blendshapes: within half a step");
            Assert.Greater(new FileInfo(Path.Combine(Dir(), "line.json")).Length, 5 * new FileInfo(Path.Combine(Dir(), "line.vasab")).Length);
        }

        [Test]
        public void SamplesAtArbitraryTimesMatchPythonsInterpolation()
        {
            var reference = Reference();
            var track = BakedTrackJson.Parse(File.ReadAllText(Path.Combine(Dir(), "line.vasatrack")));
            var f = new MotionFrame();
            var samples = Rows(reference, "samples");
            Assert.Greater(samples.Count, 40);
            foreach (Dictionary<string, object> s in samples)
            {
                double t = TestFiles.Num(s["t"]);
                track.Sample(t, f);
                var shapes = (List<object>)s["shapes"];
                for (int k = 0; k < 52; k++) Assert.AreEqual(TestFiles.Num(shapes[k]), f.Blendshapes[k], 2e-6, "t=" + t + " " + ArkitNames.Get(k));
                for (int c = 0; c < 3; c++)
                {
                    Assert.AreEqual(At(s["rot"], c), f.HeadRotation[c], 1e-3, "t=" + t + " rotation " + c);
                    Assert.AreEqual(At(s["tr"], c), f.HeadTranslation[c], 1e-6, "t=" + t + " translation " + c);
                }
            }
        }

        [Test]
        public void TheBakedLineExportsAClipWithItsFramesAsKeys()
        {
            var reference = Reference();
            var track = BakedTrackJson.Parse(File.ReadAllText(Path.Combine(Dir(), "line.vasatrack")));
            string yaml = AnimClipWriter.Write(track, new AnimClipOptions { ClipName = "line", RendererPath = "Face", HeadPath = "Armature/Head" });
            string build = Environment.GetEnvironmentVariable("VASA_BRIDGE_BUILD");
            if (!string.IsNullOrEmpty(build)) File.WriteAllText(Path.Combine(build, "line.anim"), yaml);  // kept for a look
            var clip = UnityYaml.Map(UnityYaml.Parse(yaml)["AnimationClip"], "clip");
            var curves = UnityYaml.List(clip["m_FloatCurves"], "m_FloatCurves");
            Assert.AreEqual(52, curves.Count);
            Assert.AreEqual(1, UnityYaml.List(clip["m_RotationCurves"], "m_RotationCurves").Count);
            var shapes = Rows(reference, "blendshapes");
            int jaw = ArkitNames.IndexOf("jawOpen");
            var keys = UnityYaml.List(UnityYaml.Map(UnityYaml.Map(curves[jaw], "jaw")["curve"], "curve")["m_Curve"], "keys");
            Assert.AreEqual(track.FrameCount, keys.Count);
            for (int i = 0; i < keys.Count; i++)
            {
                var key = UnityYaml.Map(keys[i], "key");
                Assert.AreEqual(i / track.Fps, UnityYaml.Num(key["time"]), 1e-9);
                Assert.AreEqual(100 * At(shapes[i], jaw), UnityYaml.Num(key["value"]), 1e-4, "jawOpen key " + i);
            }
        }
    }
}
