// The receive loop against an in-memory socket: decoding off the main thread, counting bad
// messages, bounded queue, reconnect after silence, clean shutdown. Control request encoding.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    sealed class FakeSocket : ISubscriberSocket
    {
        public readonly BlockingCollection<List<byte[]>> Inbox = new BlockingCollection<List<byte[]>>();
        public readonly List<string> Subscriptions = new List<string>();
        public string Endpoint;
        public bool Disposed;

        public void Connect(string endpoint) { Endpoint = endpoint; }
        public void Subscribe(byte[] prefix) { Subscriptions.Add(Encoding.ASCII.GetString(prefix)); }

        public bool TryReceive(int timeoutMs, List<byte[]> parts)
        {
            List<byte[]> m;
            if (!Inbox.TryTake(out m, timeoutMs)) return false;
            parts.Clear();
            parts.AddRange(m);
            return true;
        }

        public void Dispose() { Disposed = true; }
    }

    sealed class FakeFactory : ISocketFactory
    {
        public readonly List<FakeSocket> Created = new List<FakeSocket>();
        public Func<byte[], byte[]> Server;
        public byte[] LastRequest;

        public ISubscriberSocket CreateSubscriber()
        {
            var s = new FakeSocket();
            lock (Created) Created.Add(s);
            return s;
        }

        public IRequestSocket CreateRequest() { return new FakeRequest(this); }

        public FakeSocket Latest { get { lock (Created) return Created.Count > 0 ? Created[Created.Count - 1] : null; } }

        sealed class FakeRequest : IRequestSocket
        {
            readonly FakeFactory f;
            public FakeRequest(FakeFactory f) { this.f = f; }
            public void Connect(string endpoint) { }
            public bool TryRequest(byte[] request, int timeoutMs, out byte[] reply)
            {
                f.LastRequest = request;
                reply = f.Server == null ? null : f.Server(request);
                return reply != null;
            }
            public void Dispose() { }
        }
    }

    [TestFixture]
    public class ReceiverTests
    {
        static List<byte[]> Event(string stream, long seq, string name = "speech_start")
        {
            var h = new Dictionary<string, object> { { "v", 1L }, { "seq", seq }, { "stream", stream }, { "pts", 0L }, { "sent", 0L }, { "name", name } };
            return new List<byte[]> { Protocol.Topic(MessageKind.Event, stream), new MsgPackWriter().WriteValue(h).ToArray(), new byte[0] };
        }

        static FakeSocket WaitForSocket(FakeFactory f, int count)
        {
            for (int i = 0; i < 200; i++)
            {
                lock (f.Created) if (f.Created.Count >= count) return f.Created[count - 1];
                Thread.Sleep(10);
            }
            Assert.Fail("no socket #" + count + " was created");
            return null;
        }

        static Message Next(Receiver r)
        {
            Message m;
            for (int i = 0; i < 200; i++)
            {
                if (r.TryDequeue(out m)) return m;
                Thread.Sleep(10);
            }
            Assert.Fail("no message arrived");
            return null;
        }

        [Test]
        public void DecodesOnItsThreadAndCountsBadMessages()
        {
            var f = new FakeFactory();
            var settings = new ReceiverSettings { Endpoint = "tcp://127.0.0.1:1", ReconnectAfterMs = 0, PollMs = 10 };
            settings.Subscriptions.Add(Protocol.Subscription(MessageKind.Event, "npc1"));
            using (var r = new Receiver(f, settings))
            {
                r.Start();
                var s = WaitForSocket(f, 1);
                s.Inbox.Add(new List<byte[]> { new byte[] { 1 }, new byte[] { 2 } });
                s.Inbox.Add(Event("npc1", 4));
                var m = (EventMessage)Next(r);
                Assert.AreEqual("npc1", m.Stream);
                Assert.AreEqual(4UL, m.Seq);
                Assert.AreEqual(1, r.ProtocolErrors);
                StringAssert.Contains("2 parts", r.LastError);
                Assert.AreEqual(1, r.Received);
                Assert.AreEqual("tcp://127.0.0.1:1", s.Endpoint);
                CollectionAssert.AreEqual(new[] { "event/npc1/" }, s.Subscriptions);
                Assert.Throws<InvalidOperationException>(() => r.Start());
            }
            Assert.IsTrue(f.Latest.Disposed, "the socket is closed on Dispose");
        }

        [Test]
        public void QueueIsBoundedDroppingTheOldest()
        {
            var f = new FakeFactory();
            using (var r = new Receiver(f, new ReceiverSettings { QueueCapacity = 4, ReconnectAfterMs = 0, PollMs = 10 }))
            {
                r.Start();
                var s = WaitForSocket(f, 1);
                for (int i = 0; i < 10; i++) s.Inbox.Add(Event("default", i));
                for (int i = 0; i < 200 && r.Received < 10; i++) Thread.Sleep(10);
                Assert.AreEqual(10, r.Received);
                Assert.AreEqual(6, r.QueueDrops);
                Assert.AreEqual(6UL, Next(r).Seq);
                CollectionAssert.AreEqual(new[] { "" }, s.Subscriptions, "no subscription given: everything");
            }
        }

        [Test]
        public void SilenceRecreatesTheSocket()
        {
            var f = new FakeFactory();
            using (var r = new Receiver(f, new ReceiverSettings { ReconnectAfterMs = 100, PollMs = 10 }))
            {
                r.Start();
                var first = WaitForSocket(f, 1);
                var second = WaitForSocket(f, 2);
                Assert.IsTrue(first.Disposed);
                Assert.GreaterOrEqual(r.Reconnects, 1);
                second.Inbox.Add(Event("default", 0));
                Assert.AreEqual(0UL, Next(r).Seq);
            }
        }

        [Test]
        public void RecreationsThatHearNothingBackOffAndAMessageResetsTheWait()
        {
            // Without the back-off, 1.2 s of silence at 50 ms would recreate the socket ~24 times
            // (each one a window in which a starting publisher's first messages are lost);
            // doubling up to 400 ms gives 50 + 100 + 200 + 400 + 400 ms: 5.
            var f = new FakeFactory();
            using (var r = new Receiver(f, new ReceiverSettings { ReconnectAfterMs = 50, ReconnectMaxMs = 400, PollMs = 5 }))
            {
                r.Start();
                Thread.Sleep(1200);
                long backedOff = r.Reconnects;
                Assert.GreaterOrEqual(backedOff, 3, "recreations in 1.2 s of silence");
                Assert.LessOrEqual(backedOff, 8, "recreations in 1.2 s of silence");
                // A message on the current socket resets the wait to 50 ms: the next recreation
                // comes long before the 400 ms it had reached.
                var s = f.Latest;
                s.Inbox.Add(Event("default", 0));
                Assert.AreEqual(0UL, Next(r).Seq);
                var sw = System.Diagnostics.Stopwatch.StartNew();
                while (r.Reconnects == backedOff && sw.ElapsedMilliseconds < 2000) Thread.Sleep(2);
                Assert.Greater(r.Reconnects, backedOff);
                Assert.Less(sw.ElapsedMilliseconds, 300, "after a message the wait is back at 50 ms");
            }
        }

        [Test]
        public void SequenceTrackerCountsGapsAndRestarts()
        {
            var t = new SequenceTracker();
            Func<string, long, Message> ev = (stream, seq) => WireDecoder.Decode(Event(stream, seq));
            Assert.IsTrue(t.Observe(ev("a", 0)));
            Assert.IsTrue(t.Observe(ev("a", 3)));
            Assert.IsTrue(t.Observe(ev("b", 7)), "streams are counted apart");
            Assert.AreEqual(2, t.Gaps);
            Assert.IsFalse(t.Observe(ev("a", 0)));
            Assert.AreEqual(1, t.Restarts);
        }
    }

    [TestFixture]
    public class ControlTests
    {
        [Test]
        public void SpeakRequestCarriesPcmAndArguments()
        {
            var samples = new[] { 0f, 0.5f, -1f, 0.25f };
            var f = new FakeFactory();
            f.Server = request => new MsgPackWriter().WriteValue(new Dictionary<string, object> {
                { "ok", true }, { "result", new Dictionary<string, object> { { "stream", "npc1" }, { "pts", 123L }, { "duration", 0.25 } } } }).ToArray();
            var r = new ControlClient(f).Speak(samples, 16000, 1, "npc1");
            Assert.AreEqual("npc1", r.Stream);
            Assert.AreEqual(123L, r.Pts);
            Assert.AreEqual(0.25, r.Duration);
            var req = (Dictionary<string, object>)MsgPackReader.Read(f.LastRequest, 0, f.LastRequest.Length, new MsgPackLimits { MaxBinBytes = 1 << 26 });
            Assert.AreEqual("speak", req["cmd"]);
            Assert.AreEqual(1L, req["v"]);
            Assert.AreEqual("f32", req["format"]);
            Assert.AreEqual(16000L, req["rate"]);
            Assert.AreEqual(1L, req["channels"]);
            var pcm = (byte[])req["audio"];
            Assert.AreEqual(16, pcm.Length);
            Assert.AreEqual(-1f, BitConverter.ToSingle(pcm, 8));
        }

        [Test]
        public void ErrorRepliesAndTimeoutsRaiseWithTheirCode()
        {
            var f = new FakeFactory();
            f.Server = req => new MsgPackWriter().WriteValue(new Dictionary<string, object> {
                { "ok", false }, { "error", "rate 5 is out of range: expected 1000..384000" }, { "code", "bad_argument" } }).ToArray();
            var client = new ControlClient(f);
            var e = Assert.Throws<ControlException>(() => client.Status());
            Assert.AreEqual("bad_argument", e.Code);
            StringAssert.Contains("rate 5", e.Message);
            f.Server = req => null;
            Assert.AreEqual("timeout", Assert.Throws<ControlException>(() => client.Status()).Code);
            f.Server = req => new byte[] { 0x93, 1, 2, 3 };
            Assert.AreEqual("malformed", Assert.Throws<ControlException>(() => client.Status()).Code);
        }

        [Test]
        public void SpeakWithTextCarriesTheWordsAndReadsWhatBecameOfThem()
        {
            var f = new FakeFactory();
            f.Server = request => new MsgPackWriter().WriteValue(new Dictionary<string, object> {
                { "ok", true }, { "result", new Dictionary<string, object> {
                    { "stream", "npc1" }, { "pts", 5L }, { "duration", 1.5 },
                    { "text", new Dictionary<string, object> {
                        { "used", true }, { "message", "transcript aligned (2 words ...)" }, { "fit", -10.6 },
                        { "unspoken", new List<object> { new List<object> { 0.5, 1.12 } } } } } } } }).ToArray();
            var r = new ControlClient(f).Speak(new[] { 0f, 0.5f }, 16000, 1, "npc1", "Geralt, the café is closed", "en");
            var req = (Dictionary<string, object>)MsgPackReader.Read(f.LastRequest, 0, f.LastRequest.Length, new MsgPackLimits { MaxBinBytes = 1 << 26 });
            Assert.AreEqual("Geralt, the café is closed", req["text"], "UTF-8 words arrive as written");
            Assert.AreEqual("en", req["language"]);
            Assert.IsTrue(r.Text.Used);
            Assert.AreEqual(-10.6, r.Text.Fit.Value, 1e-12);
            StringAssert.StartsWith("transcript aligned", r.Text.Message);
            Assert.AreEqual(1, r.Text.Unspoken.Length);
            Assert.AreEqual(new[] { 0.5, 1.12 }, r.Text.Unspoken[0]);

            // without text the request holds neither field, and the reply's outcome is null
            f.Server = request => new MsgPackWriter().WriteValue(new Dictionary<string, object> {
                { "ok", true }, { "result", new Dictionary<string, object> { { "stream", "npc1" } } } }).ToArray();
            Assert.IsNull(new ControlClient(f).Speak(new[] { 0f }, 16000, 1, "npc1").Text);
            req = (Dictionary<string, object>)MsgPackReader.Read(f.LastRequest, 0, f.LastRequest.Length, new MsgPackLimits { MaxBinBytes = 1 << 26 });
            Assert.IsFalse(req.ContainsKey("text") || req.ContainsKey("language"));

            // a text outcome that is not a map of the expected shape is malformed
            f.Server = request => new MsgPackWriter().WriteValue(new Dictionary<string, object> {
                { "ok", true }, { "result", new Dictionary<string, object> { { "stream", "npc1" },
                    { "text", new Dictionary<string, object> { { "used", true }, { "unspoken", new List<object> { 3L } } } } } } }).ToArray();
            Assert.AreEqual("malformed", Assert.Throws<ControlException>(
                () => new ControlClient(f).Speak(new[] { 0f }, 16000, 1, "npc1", "hi")).Code);
        }

        [Test]
        public void SpeakTextIsCheckedBeforeSending()
        {
            var pcm = new byte[4];
            Func<string, string, TestDelegate> speak = (text, lang) =>
                () => ControlMessages.Speak(pcm, 16000, SampleFormat.S16, 1, "default", text: text, language: lang);
            StringAssert.Contains("the limit is 4000", Assert.Throws<ArgumentException>(speak(new string('a', 4001), null)).Message);
            StringAssert.Contains("blank", Assert.Throws<ArgumentException>(speak("   ", null)).Message);
            StringAssert.Contains("without text", Assert.Throws<ArgumentException>(speak(null, "en")).Message);
            StringAssert.Contains("language code", Assert.Throws<ArgumentException>(speak("hi", "english!")).Message);
            Assert.DoesNotThrow(speak(new string('a', 4000), "pt-BR"));
            Assert.IsTrue(ControlMessages.IsLanguageCode("de"));
            Assert.IsFalse(ControlMessages.IsLanguageCode("EN"));
            Assert.IsFalse(ControlMessages.IsLanguageCode("e n"));
        }

        [Test]
        public void SpeakArgumentsAreCheckedBeforeSending()
        {
            Assert.Throws<ArgumentException>(() => ControlMessages.Speak(new byte[3], 16000, SampleFormat.S16, 1, "default"));
            Assert.Throws<ArgumentException>(() => ControlMessages.Speak(new byte[4], 16000, SampleFormat.S16, 1, "bad id"));
            Assert.Throws<ArgumentException>(() => ControlMessages.Speak(new byte[4], 50, SampleFormat.S16, 1, "default"));
            Assert.Throws<ArgumentException>(() => ControlMessages.Speak(new byte[0], 16000, SampleFormat.S16, 1, "default"));
        }
    }
}
