// Head pose and VRM conversions: against numbers produced by vasa_bridge.motion.conversions
// (VASA_BRIDGE_REFERENCE) and against the documented meaning of each sign.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class ConversionTests
    {
        static Vec3 V(object o)
        {
            var l = (List<object>)o;
            return new Vec3(TestFiles.Num(l[0]), TestFiles.Num(l[1]), TestFiles.Num(l[2]));
        }

        static float[] Floats(object o)
        {
            var l = (List<object>)o;
            var r = new float[l.Count];
            for (int i = 0; i < r.Length; i++) r[i] = (float)TestFiles.Num(l[i]);
            return r;
        }

        static void AreEqual(Quat want, Quat got, double tol, string what)
        {
            // q and -q are the same rotation; our formulas pick the same sign as Python's.
            Assert.AreEqual(want.X, got.X, tol, what + " x");
            Assert.AreEqual(want.Y, got.Y, tol, what + " y");
            Assert.AreEqual(want.Z, got.Z, tol, what + " z");
            Assert.AreEqual(want.W, got.W, tol, what + " w");
        }

        static Quat Q(object o)
        {
            var l = (List<object>)o;
            return new Quat(TestFiles.Num(l[0]), TestFiles.Num(l[1]), TestFiles.Num(l[2]), TestFiles.Num(l[3]));
        }

        [Test]
        public void PoseMatchesPythonReference()
        {
            var pose = (List<object>)TestFiles.Reference()["pose"];
            Assert.Greater(pose.Count, 10);
            foreach (Dictionary<string, object> p in pose)
            {
                var e = V(p["euler"]);
                AreEqual(Q(p["quat"]), HeadPose.EulerToQuat(e), 1e-12, "quat " + e);
                AreEqual(Q(p["unity_quat"]), HeadPose.ToUnityRotation(e), 1e-12, "unity " + e);
                var back = HeadPose.QuatToEuler(HeadPose.EulerToQuat(e));
                var want = V(p["back"]);
                for (int i = 0; i < 3; i++) Assert.AreEqual(want[i], back[i], 1e-9, "euler round trip " + e);
            }
            foreach (Dictionary<string, object> p in (List<object>)TestFiles.Reference()["position"])
            {
                var got = HeadPose.ToUnityPosition(V(p["translation"]));
                var want = V(p["unity"]);
                for (int i = 0; i < 3; i++) Assert.AreEqual(want[i], got[i], 1e-15);
            }
        }

        [Test]
        public void VrmWeightsMatchPythonReference()
        {
            var w = new float[VrmExpressions.Count];
            foreach (Dictionary<string, object> c in (List<object>)TestFiles.Reference()["vrm"])
            {
                var shapes = Floats(c["shapes"]);
                VrmExpressions.ComputeVrm1(shapes, w);
                var v1 = (Dictionary<string, object>)c["vrm1"];
                var v0 = (Dictionary<string, object>)c["vrm0"];
                Assert.AreEqual(VrmExpressions.Count, v1.Count);
                for (int i = 0; i < VrmExpressions.Count; i++)
                {
                    Assert.AreEqual(TestFiles.Num(v1[VrmExpressions.Vrm1Presets[i]]), w[i], 1e-6, VrmExpressions.Vrm1Presets[i]);
                    Assert.AreEqual(TestFiles.Num(v0[VrmExpressions.Vrm0Names[i]]), w[i], 1e-6, VrmExpressions.Vrm0Names[i]);
                }
            }
        }

        [Test]
        public void InterpolationMatchesPythonReference()
        {
            var r = (Dictionary<string, object>)TestFiles.Reference()["interpolate"];
            Func<object, MotionFrame> frame = o =>
            {
                var d = (Dictionary<string, object>)o;
                var f = new MotionFrame();
                Array.Copy(Floats(d["shapes"]), f.Blendshapes, 52);
                f.HeadRotation = V(d["rot"]);
                f.HeadTranslation = V(d["tr"]);
                return f;
            };
            var result = new MotionFrame();
            MotionFrame.Interpolate(frame(r["a"]), frame(r["b"]), TestFiles.Num(r["t"]), result);
            var shapes = Floats(r["shapes"]);
            for (int i = 0; i < 52; i++) Assert.AreEqual(shapes[i], result.Blendshapes[i], 1e-6);
            for (int i = 0; i < 3; i++)
            {
                Assert.AreEqual(V(r["rot"])[i], result.HeadRotation[i], 1e-4, "rot " + i);  // Python stores float32
                Assert.AreEqual(V(r["tr"])[i], result.HeadTranslation[i], 1e-7, "tr " + i);
            }
        }

        // Unity's Quaternion.Euler(x, y, z) = AngleAxis(y, up) * AngleAxis(x, right) * AngleAxis(z, forward).
        static Quat UnityEuler(double x, double y, double z)
        {
            return Quat.AngleAxis(y, new Vec3(0, 1, 0)) * Quat.AngleAxis(x, new Vec3(1, 0, 0)) * Quat.AngleAxis(z, new Vec3(0, 0, 1));
        }

        static Vec3 Rotate(Quat q, Vec3 v)
        {
            var r = q * new Quat(v.X, v.Y, v.Z, 0) * new Quat(-q.X, -q.Y, -q.Z, q.W);
            return new Vec3(r.X, r.Y, r.Z);
        }

        [TestCase(5.0, -10.0, 2.5)]
        [TestCase(-30.0, 45.0, 15.0)]
        [TestCase(0.0, 90.0, 0.0)]
        public void UnityRotationEqualsQuaternionEulerWithYawAndRollNegated(double p, double y, double r)
        {
            var e = new Vec3(p, y, r);
            var u = HeadPose.ToUnityEuler(e);
            AreEqual(UnityEuler(u.X, u.Y, u.Z), HeadPose.ToUnityRotation(e), 1e-12, "Quaternion.Euler");
        }

        // In Unity the avatar faces +z towards the camera; the viewer's right is the avatar's left (-x).
        [Test]
        public void SignsMeanWhatTheProtocolSays()
        {
            var forward = new Vec3(0, 0, 1);
            var up = new Vec3(0, 1, 0);
            Assert.Less(Rotate(HeadPose.ToUnityRotation(new Vec3(20, 0, 0)), forward).Y, -0.3, "pitch > 0 looks down");
            Assert.Less(Rotate(HeadPose.ToUnityRotation(new Vec3(0, 20, 0)), forward).X, -0.3, "yaw > 0 turns to the viewer's right");
            Assert.Greater(Rotate(HeadPose.ToUnityRotation(new Vec3(0, 0, 20)), up).X, 0.3, "roll > 0 tilts the top to the viewer's left");
            Assert.AreEqual(-0.05, HeadPose.ToUnityPosition(new Vec3(0.05, 0, 0)).X, 1e-15, "x to the viewer's right is the avatar's left");
        }

        [Test]
        public void VrmFormulasOnHandPickedShapes()
        {
            var s = new float[52];
            s[ArkitNames.IndexOf("jawOpen")] = 0.8f;
            s[ArkitNames.IndexOf("eyeBlinkLeft")] = 1f;
            s[ArkitNames.IndexOf("eyeBlinkRight")] = 0.6f;
            var v = VrmExpressions.Vrm1(s);
            Assert.AreEqual(0.8f, v["aa"], 1e-6);
            Assert.AreEqual(0f, v["ih"]);
            Assert.AreEqual(0.6f, v["blink"], 1e-6);
            Assert.AreEqual(0.4f, v["blinkLeft"], 1e-6);
            Assert.AreEqual(0f, v["blinkRight"]);
            Assert.AreEqual(1f, v["blink"] + v["blinkLeft"], 1e-6, "blink + blinkLeft = eyeBlinkLeft");
            Assert.AreEqual("Blink_L", VrmExpressions.Vrm0FromVrm1("blinkLeft"));
            Assert.AreEqual("happy", VrmExpressions.Vrm1FromVrm0("Joy"));
            Assert.Throws<ArgumentException>(() => VrmExpressions.Vrm0FromVrm1("Joy"));
        }

        [Test]
        public void SlerpHalfwayAndShortestArc()
        {
            var a = HeadPose.EulerToQuat(new Vec3(0, 0, 0));
            var b = HeadPose.EulerToQuat(new Vec3(0, 90, 0));
            var mid = HeadPose.QuatToEuler(Quat.Slerp(a, b, 0.5));
            Assert.AreEqual(45.0, mid.Y, 1e-9);
            var negB = new Quat(-b.X, -b.Y, -b.Z, -b.W);
            Assert.AreEqual(45.0, HeadPose.QuatToEuler(Quat.Slerp(a, negB, 0.5)).Y, 1e-9);
        }
    }

    [TestFixture]
    public class NameMappingTests
    {
        [Test]
        public void VariantsOfArkitNames()
        {
            Assert.AreEqual(52, ArkitNames.Count);
            Assert.AreEqual("eyeBlinkLeft", ArkitNames.Get(0));
            Assert.AreEqual("tongueOut", ArkitNames.Get(51));
            Assert.AreEqual("eyeBlink_L", ArkitNames.ToAppleRaw("eyeBlinkLeft"));
            Assert.AreEqual("jawLeft", ArkitNames.ToAppleRaw("jawLeft"));
            Assert.AreEqual("mouthSmile_R", ArkitNames.ToAppleRaw("mouthSmileRight"));
            Assert.AreEqual("eyeBlinkLeft", ArkitNames.FromAppleRaw("eyeBlink_L"));
            Assert.AreEqual("JawOpen", ArkitNames.ToPascal("jawOpen"));
            StringAssert.Contains("'jawopen'", Assert.Throws<ArgumentException>(() => ArkitNames.ToPascal("jawopen")).Message);
            for (int i = 0; i < 52; i++)
            {
                string n = ArkitNames.Get(i);
                Assert.AreEqual(n, ArkitNames.FromAppleRaw(ArkitNames.ToAppleRaw(n)));
                Assert.AreEqual(i, NameMapping.ArkitIndexOfAlias(ArkitNames.ToPascal(n)));
                Assert.AreEqual(i, NameMapping.ArkitIndexOfAlias(ArkitNames.ToAppleRaw(n)));
            }
        }

        [Test]
        public void MatchesPerfectSyncAppleRawAndPrefixedMeshes()
        {
            var mesh = new List<string> { "Fcl_ALL_Neutral", "EyeBlinkLeft", "blendShape1.jawOpen", "mouthSmile_R",
                                          "M_F00_000_00_TongueOut", "mouthLeft", "JAW_LEFT" };
            int[] m = NameMapping.Match(mesh);
            Assert.AreEqual(1, m[ArkitNames.IndexOf("eyeBlinkLeft")]);
            Assert.AreEqual(2, m[ArkitNames.IndexOf("jawOpen")]);
            Assert.AreEqual(3, m[ArkitNames.IndexOf("mouthSmileRight")]);
            Assert.AreEqual(4, m[ArkitNames.IndexOf("tongueOut")]);
            Assert.AreEqual(5, m[ArkitNames.IndexOf("mouthLeft")]);
            Assert.AreEqual(6, m[ArkitNames.IndexOf("jawLeft")]);
            Assert.AreEqual(-1, m[ArkitNames.IndexOf("eyeBlinkRight")]);
            Assert.AreEqual(-1, m[ArkitNames.IndexOf("mouthSmileLeft")], "mouthSmile_R must not stand in for the left side");
        }

        [Test]
        public void OverridesWinAndAmbiguousSuffixesAreNotGuessed()
        {
            var mesh = new List<string> { "jawOpen", "MyJaw", "A_cheekPuff", "B_cheekPuff" };
            var m = NameMapping.Match(mesh, new Dictionary<string, string> { { "jawOpen", "MyJaw" }, { "tongueOut", "missing" } });
            Assert.AreEqual(1, m[ArkitNames.IndexOf("jawOpen")]);
            Assert.AreEqual(-1, m[ArkitNames.IndexOf("tongueOut")]);
            Assert.AreEqual(-1, m[ArkitNames.IndexOf("cheekPuff")], "two candidates: leave it unmapped");
        }

        [Test]
        public void WeightsUseUnitysHundredScaleWithScaleAndClamp()
        {
            var mesh = new List<string> { "JawOpen", "EyeBlinkLeft" };
            var bindings = NameMapping.Bind(mesh, null, new Dictionary<string, float> { { "eyeBlinkLeft", 2f } });
            Assert.AreEqual(2, bindings.Count);
            var s = new float[52];
            s[ArkitNames.IndexOf("jawOpen")] = 0.25f;
            s[ArkitNames.IndexOf("eyeBlinkLeft")] = 0.75f;
            var w = new float[2];
            NameMapping.ApplyWeights(s, bindings, w);
            Assert.AreEqual(25f, w[0], 1e-4);
            Assert.AreEqual(100f, w[1], 1e-4, "0.75 x 2 clamps to 100");
        }
    }
}
