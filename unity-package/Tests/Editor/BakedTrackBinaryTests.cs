// The compact binary track (.vasab) read by name, and refused with a one-line reason when broken.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class BakedTrackBinaryTests
    {
        /// <summary>The layout io.py writes, built by hand: any names, frames of (shapes, rot, trans).</summary>
        static byte[] Vasab(string[] names, ushort[][] shapes, float[][] pose, double fps = 25, double start = 0,
                            ushort version = 1, string magic = "VASB")
        {
            var ms = new MemoryStream();
            var w = new BinaryWriter(ms);   // little-endian
            w.Write(Encoding.ASCII.GetBytes(magic));
            w.Write(version);
            w.Write((ushort)names.Length);
            w.Write((uint)shapes.Length);
            w.Write(fps);
            w.Write(start);
            foreach (var n in names) { w.Write((byte)n.Length); w.Write(Encoding.ASCII.GetBytes(n)); }
            for (int f = 0; f < shapes.Length; f++)
            {
                foreach (var v in shapes[f]) w.Write(v);
                foreach (var v in pose[f]) w.Write(v);
            }
            return ms.ToArray();
        }

        static readonly float[][] Pose = { new float[] { 10, -20, 5, 0.01f, 0, 0 }, new float[] { -5, 0, 0, 0, 0.02f, -0.01f } };

        [Test]
        public void ValuesArePlacedByNameAndDequantised()
        {
            var t = BakedTrackBinary.Parse(Vasab(new[] { "tongueOut", "jawOpen" },
                new[] { new ushort[] { 65535, 32768 }, new ushort[] { 0, 13107 } }, Pose, 30, 1.5));
            Assert.AreEqual(2, t.FrameCount);
            Assert.AreEqual(30.0, t.Fps);
            Assert.AreEqual(1.5, t.Start);
            Assert.AreEqual(1.0f, t.Blendshape(0, ArkitNames.IndexOf("tongueOut")));
            Assert.AreEqual(32768 / 65535f, t.Blendshape(0, ArkitNames.IndexOf("jawOpen")), 1e-7);
            Assert.AreEqual(0.2f, t.Blendshape(1, ArkitNames.IndexOf("jawOpen")), 1e-7);
            Assert.AreEqual(0f, t.Blendshape(0, ArkitNames.IndexOf("eyeBlinkLeft")), "a name the file does not give is 0");
            Assert.AreEqual(-20.0, t.HeadRotation(0).Y, 1e-6);
            Assert.AreEqual(-0.01, t.HeadTranslation(1).Z, 1e-7);
        }

        static void Refused(byte[] data, string fragment)
        {
            var e = Assert.Throws<TrackFormatException>(() => BakedTrackBinary.Parse(data));
            StringAssert.Contains(fragment, e.Message);
        }

        [Test]
        public void BrokenFilesAreRefusedNamingWhatIsWrong()
        {
            var names = new[] { "jawOpen" };
            var shapes = new[] { new ushort[] { 1 }, new ushort[] { 2 } };
            var good = Vasab(names, shapes, Pose);
            BakedTrackBinary.Parse(good);
            Refused(new byte[10], "10 bytes: expected at least a 28-byte header");
            Refused(Vasab(names, shapes, Pose, magic: "VASX"), "magic is 'VASX': expected 'VASB'");
            Refused(Vasab(names, shapes, Pose, version: 2), "version is 2: expected 1");
            Refused(Vasab(new[] { "JawOpen" }, shapes, Pose), "name 0 is 'JawOpen': expected an ARKit name");
            Refused(Vasab(new[] { "jawOpen", "jawOpen" }, new[] { new ushort[] { 1, 1 }, new ushort[] { 2, 2 } }, Pose), "name 1 'jawOpen' appears twice");
            var cut = new byte[good.Length - 1];
            Array.Copy(good, cut, cut.Length);
            Refused(cut, "bytes of frames: expected 2 x 26");
            var names0 = new byte[30];
            Array.Copy(good, names0, 30);
            Refused(names0, "name 0 is cut short at byte 28");
            Refused(Vasab(names, shapes, Pose, fps: 0), "fps is 0");
            Refused(Vasab(names, shapes, new[] { new float[] { 10, 200, 5, 0, 0, 0 }, Pose[1] }), "head rotation y is 200 at frame 0");
        }
    }
}
