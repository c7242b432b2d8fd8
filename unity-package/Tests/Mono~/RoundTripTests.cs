// Live round trip with Tests/Mono~/publisher.py: every message kind (frames included, which
// `vasa-bridge replay` does not send) from the real wire encoders, stream filtering by prefix, and
// the real ControlServer answering the C# ControlClient. The Core Receiver reads through libzmq
// (P/Invoke) and decodes to the very values Python sent.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class RoundTripTests
    {
        Process publisher;
        Dictionary<string, object> expect;
        string dataEndpoint, controlEndpoint, expectPath;
        LibZmqFactory factory;

        static int FreePort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        [TestFixtureSetUp]
        public void StartPublisher()
        {
            string python = Environment.GetEnvironmentVariable("VASA_BRIDGE_PYTHON");
            string root = Environment.GetEnvironmentVariable("VASA_BRIDGE_ROOT");
            if (string.IsNullOrEmpty(python) || string.IsNullOrEmpty(root))
                Assert.Ignore("VASA_BRIDGE_PYTHON / VASA_BRIDGE_ROOT not set: run through Tests/ci.sh");
            dataEndpoint = "tcp://127.0.0.1:" + FreePort();
            controlEndpoint = "tcp://127.0.0.1:" + FreePort();
            expectPath = Path.Combine(Path.GetTempPath(), "vasa_roundtrip_" + Guid.NewGuid().ToString("N") + ".json");
            var psi = new ProcessStartInfo(python, "\"" + Path.Combine(root, "unity-package/Tests/Mono~/publisher.py") + "\" --pub "
                                                   + dataEndpoint + " --control " + controlEndpoint + " --expect \"" + expectPath + "\"")
            {
                UseShellExecute = false,
                WorkingDirectory = root,
            };
            psi.EnvironmentVariables["PYTHONPATH"] = root;
            publisher = Process.Start(psi);
            var sw = Stopwatch.StartNew();
            while (!File.Exists(expectPath))
            {
                if (publisher.HasExited) Assert.Fail("publisher.py exited with code " + publisher.ExitCode + " before binding");
                if (sw.Elapsed.TotalSeconds > 30) Assert.Fail("publisher.py did not bind within 30 s");
                Thread.Sleep(50);
            }
            expect = (Dictionary<string, object>)Json.Parse(File.ReadAllText(expectPath));
            factory = new LibZmqFactory();
        }

        [TestFixtureTearDown]
        public void StopPublisher()
        {
            if (publisher != null && !publisher.HasExited)
            {
                try { new ControlClient(factory, controlEndpoint, 2000).Request(ControlMessages.Command("stop")); }
                catch (ControlException) { }
                if (!publisher.WaitForExit(5000)) publisher.Kill();
            }
            if (factory != null) factory.Dispose();
            if (expectPath != null && File.Exists(expectPath)) File.Delete(expectPath);
        }

        [Test]
        public void EveryKindArrivesDecodedWithPythonsValues()
        {
            var settings = new ReceiverSettings { Endpoint = dataEndpoint, PollMs = 20 };
            foreach (var s in new[] { "default", "npc1" }) settings.Subscriptions.Add(Protocol.Subscription(MessageKind.Motion, s));
            settings.Subscriptions.Add(Protocol.Subscription(MessageKind.Frame, "default"));
            settings.Subscriptions.Add(Protocol.Subscription(MessageKind.Audio, "default"));
            settings.Subscriptions.Add(Protocol.Subscription(MessageKind.Event));
            settings.Subscriptions.Add(Protocol.Subscription(MessageKind.Hello));

            var motion = new Dictionary<string, MotionMessage>();
            FrameMessage frame = null; AudioMessage audio = null; EventMessage ev = null; HelloMessage hello = null;
            var sw = Stopwatch.StartNew();
            using (var r = new Receiver(factory, settings))
            {
                r.Start();
                while ((motion.Count < 13 || frame == null || audio == null || ev == null || hello == null) && sw.Elapsed.TotalSeconds < 20)
                {
                    Message m;
                    if (!r.TryDequeue(out m)) { Thread.Sleep(5); continue; }
                    if (m is MotionMessage) motion[m.Stream + "/" + m.Seq] = (MotionMessage)m;
                    else if (m is FrameMessage) frame = (FrameMessage)m;
                    else if (m is AudioMessage) audio = (AudioMessage)m;
                    else if (m is EventMessage) ev = (EventMessage)m;
                    else if (m is HelloMessage) hello = (HelloMessage)m;
                }
                Assert.AreEqual(0, r.ProtocolErrors, r.LastError);
            }
            Assert.AreEqual(13, motion.Count, "10 default + 3 npc1 motion frames");

            foreach (Dictionary<string, object> e in (List<object>)expect["motion"])
            {
                string key = (string)e["stream"] + "/" + (long)e["seq"];
                if ((string)e["stream"] == (string)expect["never"])
                {
                    Assert.IsFalse(motion.ContainsKey(key), "subscribed to motion/npc1/, yet npc10 arrived");
                    continue;
                }
                var f = motion[key].ToMotionFrame();
                Assert.AreEqual((long)e["pts"], f.Pts);
                Assert.AreEqual(true, motion[key].Speaking);
                var shapes = (List<object>)e["blendshapes"];
                for (int k = 0; k < 52; k++) Assert.AreEqual((float)TestFiles.Num(shapes[k]), f.Blendshapes[k], key + " " + ArkitNames.Get(k));
                for (int i = 0; i < 3; i++)
                {
                    Assert.AreEqual(TestFiles.Num(((List<object>)e["head_rotation"])[i]), f.HeadRotation[i], 1e-9);
                    Assert.AreEqual(TestFiles.Num(((List<object>)e["head_translation"])[i]), f.HeadTranslation[i], 1e-9);
                }
            }

            var fe = (Dictionary<string, object>)expect["frame"];
            Assert.AreEqual(PixelFormat.Bgra8, frame.Format);
            Assert.AreEqual(AlphaMode.Premultiplied, frame.Alpha);
            Assert.AreEqual((long)fe["width"], frame.Width);
            var px = frame.PackedPixels();
            var want = (List<object>)fe["pixels"];
            for (int i = 0; i < px.Length; i++) Assert.AreEqual((long)want[i], px[i]);

            var values = (List<object>)((Dictionary<string, object>)expect["audio"])["values"];
            var pcm = audio.ReadInt16();
            Assert.AreEqual(values.Count, pcm.Length);
            for (int i = 0; i < pcm.Length; i++) Assert.AreEqual((long)values[i], pcm[i]);

            Assert.AreEqual("speech_start", ev.Name);
            Assert.AreEqual(1L, ev.Data["n"]);
            Assert.AreEqual("roundtrip-test", hello.Publisher);
            Assert.AreEqual(controlEndpoint, hello.Control);
        }

        [Test]
        public void SpeakReachesPythonIntact()
        {
            var clip = new float[8000];
            double sum = 0;
            for (int i = 0; i < clip.Length; i++) { clip[i] = (float)Math.Sin(i * 0.01) * 0.5f; sum += clip[i]; }
            var client = new ControlClient(factory, controlEndpoint, 5000);
            var r = client.Speak(clip, 16000, 1, "npc1");
            Assert.AreEqual("npc1", r.Stream);
            Assert.AreEqual(0.5, r.Duration, 1e-12);
            Assert.AreEqual(400000000L, r.Pts);

            // Stereo: the real ControlServer averages the channels into mono before the handler.
            var raw = client.Request(ControlMessages.Speak(ControlMessages.F32Bytes(clip), 16000, SampleFormat.F32, 2, "npc1"));
            Assert.AreEqual(0.25, TestFiles.Num(raw["duration"]), 1e-12, "8000 floats as stereo: 4000 frames");
            Assert.AreEqual(sum / 2, TestFiles.Num(raw["sum"]), 1e-4, "the samples Python read are ours");

            // With the words: they reach Python as written (UTF-8), and the outcome comes back.
            var said = client.Speak(clip, 16000, 1, "npc1", "Geralt, ¿dónde está el café?", "es");
            Assert.AreEqual("es: Geralt, ¿dónde está el café?", said.Text.Message);
            Assert.IsFalse(said.Text.Used);
            Assert.AreEqual(-9.5, said.Text.Fit.Value, 1e-12);
            Assert.AreEqual(new[] { 0.25, 0.5 }, said.Text.Unspoken[0]);
            Assert.IsNull(r.Text, "no words sent, no outcome");

            var bad = Assert.Throws<ControlException>(() => client.Speak(new float[100], 5000, 1, "npc1"));
            Assert.AreEqual("bad_argument", bad.Code);
            StringAssert.Contains("5000", bad.Message);
            var e = Assert.Throws<ControlException>(() => client.Request(ControlMessages.Command("dance")));
            Assert.AreEqual("unknown_command", e.Code);
            Assert.AreEqual(25L, client.Status()["fps"], "status replies with its result map");
        }
    }
}
