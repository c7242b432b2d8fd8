// The .anim export checked against the track: Unity's YAML structure, one curve per mapped
// blendshape on the renderer's path, the head bone's rotation curve, key times and values, linear
// tangents (a Hermite evaluation between keys gives what BakedTrack.Sample gives), and key
// reduction within its tolerance.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class AnimClipWriterTests
    {
        static Dictionary<string, object> Clip(string yaml)
        {
            StringAssert.StartsWith("%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n--- !u!74 &7400000\nAnimationClip:\n", yaml);
            return UnityYaml.Map(UnityYaml.Parse(yaml)["AnimationClip"], "AnimationClip");
        }

        static List<object> Curves(Dictionary<string, object> clip, string field) { return UnityYaml.List(clip[field], field); }

        sealed class Key { public double Time, Value, In, Out; public int Mode; }

        static List<Key> Keys(object curveEntry, string component = null)
        {
            var entry = UnityYaml.Map(curveEntry, "curve entry");
            var curve = UnityYaml.Map(entry["curve"], "curve");
            Assert.AreEqual("2", curve["serializedVersion"]);
            var keys = new List<Key>();
            foreach (var k in UnityYaml.List(curve["m_Curve"], "m_Curve"))
            {
                var m = UnityYaml.Map(k, "key");
                Assert.AreEqual("3", m["serializedVersion"]);
                Func<string, double> get = f => component == null ? UnityYaml.Num(m[f]) : UnityYaml.Num(UnityYaml.Map(m[f], f)[component]);
                keys.Add(new Key { Time = UnityYaml.Num(m["time"]), Value = get("value"), In = get("inSlope"), Out = get("outSlope"), Mode = int.Parse((string)m["tangentMode"]) });
            }
            return keys;
        }

        /// <summary>Unity's curve evaluation between two unweighted keys (cubic Hermite).</summary>
        static double Hermite(Key a, Key b, double t)
        {
            double dt = b.Time - a.Time, s = (t - a.Time) / dt, s2 = s * s, s3 = s2 * s;
            return (2 * s3 - 3 * s2 + 1) * a.Value + (s3 - 2 * s2 + s) * a.Out * dt + (-2 * s3 + 3 * s2) * b.Value + (s3 - s2) * b.In * dt;
        }

        static double Evaluate(List<Key> keys, double t)
        {
            if (t <= keys[0].Time) return keys[0].Value;
            for (int j = 1; j < keys.Count; j++)
                if (t <= keys[j].Time) return Hermite(keys[j - 1], keys[j], t);
            return keys[keys.Count - 1].Value;
        }

        [Test]
        public void EveryBlendshapeGetsACurveOnTheRendererPathWithAKeyPerFrame()
        {
            var track = BakedTrackTests.RandomTrack(9, 25, 4);
            var yaml = AnimClipWriter.Write(track, new AnimClipOptions { ClipName = "line_007", RendererPath = "Body/Face" });
            var clip = Clip(yaml);
            Assert.AreEqual("line_007", clip["m_Name"]);
            Assert.AreEqual("25", clip["m_SampleRate"]);
            Assert.AreEqual("0.32", UnityYaml.Map(clip["m_AnimationClipSettings"], "settings")["m_StopTime"], "the last frame's time");
            Assert.AreEqual("0", UnityYaml.Map(clip["m_AnimationClipSettings"], "settings")["m_LoopTime"]);
            Assert.IsEmpty(Curves(clip, "m_RotationCurves"), "no head path: no rotation curve");
            var curves = Curves(clip, "m_FloatCurves");
            Assert.AreEqual(52, curves.Count);
            Assert.AreEqual(52, Curves(clip, "m_EditorCurves").Count, "the editor's copy of the same curves");
            for (int k = 0; k < 52; k++)
            {
                var entry = UnityYaml.Map(curves[k], "curve");
                Assert.AreEqual("blendShape." + ArkitNames.Get(k), entry["attribute"]);
                Assert.AreEqual("Body/Face", entry["path"]);
                Assert.AreEqual("137", entry["classID"], "SkinnedMeshRenderer");
                var keys = Keys(curves[k]);
                Assert.AreEqual(track.FrameCount, keys.Count);
                for (int i = 0; i < keys.Count; i++)
                {
                    Assert.AreEqual(i / 25.0, keys[i].Time, 1e-9);
                    Assert.AreEqual(100.0 * track.Blendshape(i, k), keys[i].Value, 1e-5, ArkitNames.Get(k) + " frame " + i);
                    Assert.AreEqual(AnimClipWriter.LinearTangents, keys[i].Mode);
                }
            }
        }

        [Test]
        public void BetweenKeysTheClipPlaysWhatTheSamplerGives()
        {
            var track = BakedTrackTests.RandomTrack(6, 30, 8);
            var clip = Clip(AnimClipWriter.Write(track, new AnimClipOptions()));
            int jaw = ArkitNames.IndexOf("jawOpen");
            var keys = Keys(Curves(clip, "m_FloatCurves")[jaw]);
            var f = new MotionFrame();
            for (double t = 0; t <= track.LastFrameTime; t += 0.0071)
            {
                track.Sample(t, f);
                Assert.AreEqual(100.0 * f.Blendshapes[jaw], Evaluate(keys, t), 1e-4, "t=" + t);
            }
        }

        [Test]
        public void ANameMappingRenamesCurvesAndLeavesOutShapesTheMeshLacks()
        {
            var track = BakedTrackTests.RandomTrack(4, 25, 5);
            var mesh = new[] { "Face.M_F00_000_00_Fcl_ALL_Neutral", "JawOpen", "EyeBlink_L", "eyeBlink_R", "blendShape1.mouthSmileLeft", "TongueOut" };
            var map = AnimClipOptions.MapToMesh(mesh);
            Assert.AreEqual(5, map.Count);
            Assert.AreEqual("EyeBlink_L", map["eyeBlinkLeft"]);
            Assert.AreEqual("blendShape1.mouthSmileLeft", map["mouthSmileLeft"]);
            var clip = Clip(AnimClipWriter.Write(track, new AnimClipOptions { BlendshapeNames = map, WeightScale = 1f }));
            var curves = Curves(clip, "m_FloatCurves");
            Assert.AreEqual(5, curves.Count);
            var byName = new Dictionary<string, object>();
            foreach (var c in curves) byName[(string)UnityYaml.Map(c, "c")["attribute"]] = c;
            CollectionAssert.AreEquivalent(new[] { "blendShape.JawOpen", "blendShape.EyeBlink_L", "blendShape.eyeBlink_R",
                                                   "blendShape.blendShape1.mouthSmileLeft", "blendShape.TongueOut" }, byName.Keys);
            var keys = Keys(byName["blendShape.EyeBlink_L"]);
            for (int i = 0; i < track.FrameCount; i++)
                Assert.AreEqual(track.Blendshape(i, ArkitNames.IndexOf("eyeBlinkLeft")), keys[i].Value, 1e-7, "weight scale 1: the coefficient itself");
            Assert.AreEqual("", UnityYaml.Map(curves[0], "c")["path"], "renderer on the Animator's own object");
        }

        [Test]
        public void TheHeadBoneGetsAQuaternionCurveMatchingTheLiveHeadPose()
        {
            var track = BakedTrackTests.RandomTrack(8, 25, 6);
            var clip = Clip(AnimClipWriter.Write(track, new AnimClipOptions { HeadPath = "Armature/Hips/Spine/Neck/Head", RendererPath = "Face" }));
            var rot = Curves(clip, "m_RotationCurves");
            Assert.AreEqual(1, rot.Count);
            Assert.AreEqual("Armature/Hips/Spine/Neck/Head", UnityYaml.Map(rot[0], "r")["path"]);
            var comps = new[] { "x", "y", "z", "w" };
            var keys = new List<Key>[4];
            for (int c = 0; c < 4; c++) keys[c] = Keys(rot[0], comps[c]);
            for (int i = 0; i < track.FrameCount; i++)
            {
                // Identity rest and parent: the local rotation is HeadPoseDriver's Quaternion.Euler(pitch, -yaw, -roll).
                var q = HeadPose.ToUnityRotation(track.HeadRotation(i));
                double dot = q.X * keys[0][i].Value + q.Y * keys[1][i].Value + q.Z * keys[2][i].Value + q.W * keys[3][i].Value;
                double sign = dot >= 0 ? 1 : -1;   // q and -q are the same turn; the writer keeps neighbours on one side
                if (i == 0) Assert.AreEqual(1.0, sign, "the first key is as converted");
                Assert.AreEqual(q.X * sign, keys[0][i].Value, 1e-7, "frame " + i);
                Assert.AreEqual(q.Y * sign, keys[1][i].Value, 1e-7);
                Assert.AreEqual(q.Z * sign, keys[2][i].Value, 1e-7);
                Assert.AreEqual(q.W * sign, keys[3][i].Value, 1e-7);
                Assert.AreEqual(i / 25.0, keys[0][i].Time, 1e-9);
            }
            var editor = Curves(clip, "m_EditorCurves");
            Assert.AreEqual(52 + 4, editor.Count, "52 blendshapes and m_LocalRotation.x/y/z/w");
            for (int c = 0; c < 4; c++)
            {
                var e = UnityYaml.Map(editor[52 + c], "e");
                Assert.AreEqual("m_LocalRotation." + comps[c], e["attribute"]);
                Assert.AreEqual("4", e["classID"], "Transform");
                var ek = Keys(editor[52 + c]);
                for (int i = 0; i < track.FrameCount; i++) Assert.AreEqual(keys[c][i].Value, ek[i].Value, 1e-12);
            }
        }

        [Test]
        public void RestAndParentRotationsComposeAsTheHeadPoseDriverDoes()
        {
            var track = new BakedTrack(25, 0, new float[52 * 2], new float[] { 10, 20, 5, -10, 0, 0 }, new float[6]);
            var parent = Quat.AngleAxis(90, new Vec3(0, 1, 0));
            var rest = Quat.AngleAxis(-30, new Vec3(1, 0, 0));
            var o = new AnimClipOptions { HeadPath = "Head", HeadParentRotation = parent, HeadRestRotation = rest };
            var clip = Clip(AnimClipWriter.Write(track, o));
            var rot = Curves(clip, "m_RotationCurves")[0];
            var comps = new[] { "x", "y", "z", "w" };
            for (int i = 0; i < 2; i++)
            {
                var local = new Quat(Keys(rot, "x")[i].Value, Keys(rot, "y")[i].Value, Keys(rot, "z")[i].Value, Keys(rot, "w")[i].Value);
                // In the root's frame the head ends up turned by D from where it rested: P * local == D * P * rest.
                var lhs = parent * local;
                var rhs = HeadPose.ToUnityRotation(track.HeadRotation(i)) * parent * rest;
                Assert.AreEqual(1.0, Math.Abs(Quat.Dot(lhs.Normalized(), rhs.Normalized())), 1e-7, "frame " + i);
            }
            var still = Clip(AnimClipWriter.Write(track, new AnimClipOptions { HeadPath = "Head", HeadRestRotation = rest, RotationScale = 0 }));
            foreach (var c in comps)
            {
                double expected = c == "x" ? rest.X : c == "y" ? rest.Y : c == "z" ? rest.Z : rest.W;
                foreach (var k in Keys(Curves(still, "m_RotationCurves")[0], c)) Assert.AreEqual(expected, k.Value, 1e-7, "scale 0: the rest pose");
            }
        }

        static Quat KeyQuat(object rotationCurve, int i)
        {
            return new Quat(Keys(rotationCurve, "x")[i].Value, Keys(rotationCurve, "y")[i].Value, Keys(rotationCurve, "z")[i].Value, Keys(rotationCurve, "w")[i].Value);
        }

        [Test]
        public void WithANeckTheTurnIsSharedAndTheHeadEndsWhereItWouldAlone()
        {
            var track = new BakedTrack(25, 0, new float[52 * 3], new float[] { 12, -25, 6, -8, 30, -4, 0, 0, 0 }, new float[9]);
            var neckParent = Quat.AngleAxis(20, new Vec3(1, 0, 0));                 // the chest, leaning
            var neckRest = Quat.AngleAxis(-10, new Vec3(0, 0, 1));
            var headRest = Quat.AngleAxis(15, new Vec3(0, 1, 0));
            var headParent = neckParent * neckRest;                                  // the head's parent is the neck
            var o = new AnimClipOptions
            {
                HeadPath = "Hips/Spine/Neck/Head", HeadParentRotation = headParent, HeadRestRotation = headRest,
                NeckPath = "Hips/Spine/Neck", NeckShare = 0.3, NeckParentRotation = neckParent, NeckRestRotation = neckRest,
            };
            var clip = Clip(AnimClipWriter.Write(track, o));
            var rot = Curves(clip, "m_RotationCurves");
            Assert.AreEqual(2, rot.Count, "neck and head");
            Assert.AreEqual("Hips/Spine/Neck", UnityYaml.Map(rot[0], "neck")["path"]);
            Assert.AreEqual("Hips/Spine/Neck/Head", UnityYaml.Map(rot[1], "head")["path"]);
            Assert.AreEqual(52 + 8, Curves(clip, "m_EditorCurves").Count);
            for (int i = 0; i < track.FrameCount; i++)
            {
                var d = HeadPose.ToUnityRotation(track.HeadRotation(i));
                var neck = KeyQuat(rot[0], i);
                var head = KeyQuat(rot[1], i);
                // The neck turns by its share in the root's frame...
                var part = Quat.Slerp(Quat.Identity, d, 0.3);
                Assert.AreEqual(1.0, Math.Abs(Quat.Dot((neckParent * neck).Normalized(), (part * neckParent * neckRest).Normalized())), 1e-7, "neck, frame " + i);
                // ...and the head, through the turned neck, ends turned by the whole D (as with no neck).
                var headInRoot = neckParent * neck * head;
                Assert.AreEqual(1.0, Math.Abs(Quat.Dot(headInRoot.Normalized(), (d * headParent * headRest).Normalized())), 1e-7, "head, frame " + i);
            }
        }

        [Test]
        public void KeyReductionStaysWithinItsToleranceAndKeepsTheEnds()
        {
            // A slow jaw (smooth) and a noisy brow: the first loses most keys, the second few.
            int n = 120;
            var shapes = new float[n * 52];
            var rng = new Random(3);
            int jaw = ArkitNames.IndexOf("jawOpen"), brow = ArkitNames.IndexOf("browInnerUp");
            for (int i = 0; i < n; i++)
            {
                shapes[i * 52 + jaw] = (float)(0.5 + 0.4 * Math.Sin(i / 12.0));
                shapes[i * 52 + brow] = (float)rng.NextDouble();
            }
            var track = new BakedTrack(25, 0, shapes, new float[n * 3], new float[n * 3]);
            const double tol = 0.5;   // half a Unity weight point
            var clip = Clip(AnimClipWriter.Write(track, new AnimClipOptions { KeyTolerance = tol, HeadPath = "Head" }));
            var curves = Curves(clip, "m_FloatCurves");
            var jawKeys = Keys(curves[jaw]);
            var browKeys = Keys(curves[brow]);
            var flatKeys = Keys(curves[0]);
            Assert.Less(jawKeys.Count, n / 3, "a smooth curve needs few keys");
            Assert.Greater(browKeys.Count, n / 2, "noise keeps its keys");
            Assert.AreEqual(2, flatKeys.Count, "a constant curve keeps its two ends");
            Assert.AreEqual(2, Keys(Curves(clip, "m_RotationCurves")[0], "w").Count, "a still head keeps its two ends");
            foreach (var keys in new[] { jawKeys, browKeys })
            {
                Assert.AreEqual(0.0, keys[0].Time);
                Assert.AreEqual((n - 1) / 25.0, keys[keys.Count - 1].Time, 1e-9);
            }
            for (int i = 0; i < n; i++)
            {
                Assert.AreEqual(100.0 * track.Blendshape(i, jaw), Evaluate(jawKeys, i / 25.0), tol + 1e-6, "jaw frame " + i);
                Assert.AreEqual(100.0 * track.Blendshape(i, brow), Evaluate(browKeys, i / 25.0), tol + 1e-6, "brow frame " + i);
            }
        }

        [Test]
        public void NamesThatYamlWouldMisreadAreQuoted()
        {
            var track = BakedTrackTests.RandomTrack(2, 25, 1);
            var map = new Dictionary<string, string> { { "jawOpen", "- jaw: open" } };
            var yaml = AnimClipWriter.Write(track, new AnimClipOptions { BlendshapeNames = map, ClipName = "it's", RendererPath = "#face" });
            var clip = Clip(yaml);
            Assert.AreEqual("it's", clip["m_Name"]);
            var c = UnityYaml.Map(Curves(clip, "m_FloatCurves")[0], "c");
            Assert.AreEqual("blendShape.- jaw: open", c["attribute"]);
            Assert.AreEqual("#face", c["path"]);
            Assert.AreEqual("0", AnimClipWriter.Num(1e-12));
            Assert.AreEqual("-0.000001", AnimClipWriter.Num(-1e-6), "no exponents");
            Assert.AreEqual("2500", AnimClipWriter.Num(2500.0));
        }
    }
}
