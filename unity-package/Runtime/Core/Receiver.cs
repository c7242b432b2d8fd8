// The receive loop: a background thread reads multipart messages, decodes them (so the main
// thread only consumes typed messages) and hands them over through a bounded ConcurrentQueue that
// Unity drains in Update. Bad messages are counted and dropped; silence longer than
// ReconnectAfterMs (the runtime's hello comes once a second) recreates the socket, and each
// recreation that hears nothing doubles the wait before the next (up to ReconnectMaxMs): a fresh
// SUB socket hears nothing until it has subscribed, so a recreation that falls on a publisher's
// first messages drops them, and a receiver left waiting for a runtime that is not running
// should seldom be in that window when it starts.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace VasaBridge.Core
{
    public sealed class ReceiverSettings
    {
        public string Endpoint = Protocol.DefaultDataEndpoint;
        /// <summary>Subscription prefixes (Protocol.Subscription); empty subscribes to everything.</summary>
        public List<byte[]> Subscriptions = new List<byte[]>();
        public long MaxMessageBytes = Protocol.DefaultMaxMessageBytes;
        /// <summary>Messages waiting for the main thread; beyond it the oldest are dropped.</summary>
        public int QueueCapacity = 256;
        /// <summary>Recreate the socket after this much silence; 0 disables it.</summary>
        public int ReconnectAfterMs = 3000;
        /// <summary>Each recreation that hears nothing doubles the wait, up to this; a message resets it.</summary>
        public int ReconnectMaxMs = 30000;
        public int PollMs = 50;
    }

    public sealed class Receiver : IDisposable
    {
        readonly ISocketFactory factory;
        readonly ReceiverSettings settings;
        readonly ConcurrentQueue<Message> queue = new ConcurrentQueue<Message>();
        readonly ManualResetEvent stop = new ManualResetEvent(false);
        Thread thread;
        long received, protocolErrors, queueDrops, reconnects, lastReceiveTicks;
        string lastError;
        volatile bool disposed;

        public Receiver(ISocketFactory factory, ReceiverSettings settings)
        {
            if (factory == null) throw new ArgumentNullException("factory");
            this.factory = factory;
            this.settings = settings ?? new ReceiverSettings();
        }

        public long Received { get { return Interlocked.Read(ref received); } }
        public long ProtocolErrors { get { return Interlocked.Read(ref protocolErrors); } }
        public long QueueDrops { get { return Interlocked.Read(ref queueDrops); } }
        public long Reconnects { get { return Interlocked.Read(ref reconnects); } }
        public string LastError { get { return Volatile.Read(ref lastError); } }
        public bool Running { get { return thread != null && thread.IsAlive; } }

        /// <summary>Seconds since the last message (valid or not); infinity before the first.</summary>
        public double SecondsSinceLastMessage
        {
            get
            {
                long t = Interlocked.Read(ref lastReceiveTicks);
                return t == 0 ? double.PositiveInfinity : (double)(Stopwatch.GetTimestamp() - t) / Stopwatch.Frequency;
            }
        }

        public void Start()
        {
            if (disposed) throw new ObjectDisposedException("Receiver", "the receiver was disposed: create a new one");
            if (thread != null) throw new InvalidOperationException("the receiver is already started");
            thread = new Thread(Run) { IsBackground = true, Name = "vasa_bridge receiver" };
            thread.Start();
        }

        /// <summary>Next decoded message for the consumer thread (Unity: Update).</summary>
        public bool TryDequeue(out Message message) { return queue.TryDequeue(out message); }

        public int Pending { get { return queue.Count; } }

        ISubscriberSocket Open()
        {
            var s = factory.CreateSubscriber();
            s.Connect(settings.Endpoint);
            if (settings.Subscriptions.Count == 0) s.Subscribe(new byte[0]);
            foreach (var p in settings.Subscriptions) s.Subscribe(p);
            return s;
        }

        void Run()
        {
            ISubscriberSocket socket = null;
            var parts = new List<byte[]>(3);
            long silentSince = Stopwatch.GetTimestamp();
            double wait = settings.ReconnectAfterMs;
            try
            {
                socket = Open();
                while (!stop.WaitOne(0))
                {
                    if (!socket.TryReceive(settings.PollMs, parts))
                    {
                        double silent = (double)(Stopwatch.GetTimestamp() - silentSince) / Stopwatch.Frequency * 1000;
                        if (settings.ReconnectAfterMs > 0 && silent > wait)
                        {
                            // A fresh socket also recovers from a publisher that restarted on another
                            // port mapping or a half-open TCP connection ZeroMQ did not notice.
                            socket.Dispose();
                            socket = null;
                            socket = Open();
                            Interlocked.Increment(ref reconnects);
                            silentSince = Stopwatch.GetTimestamp();
                            wait = Math.Max(settings.ReconnectAfterMs, Math.Min(2 * wait, settings.ReconnectMaxMs));
                        }
                        continue;
                    }
                    wait = settings.ReconnectAfterMs;
                    silentSince = Stopwatch.GetTimestamp();
                    Interlocked.Exchange(ref lastReceiveTicks, silentSince);
                    Message m;
                    try { m = WireDecoder.Decode(parts, settings.MaxMessageBytes); }
                    catch (ProtocolException e)
                    {
                        Interlocked.Increment(ref protocolErrors);
                        Volatile.Write(ref lastError, e.Message);
                        continue;
                    }
                    Interlocked.Increment(ref received);
                    queue.Enqueue(m);
                    Message dropped;
                    while (queue.Count > settings.QueueCapacity && queue.TryDequeue(out dropped))
                        Interlocked.Increment(ref queueDrops);
                }
            }
            catch (Exception e)
            {
                // A transport failure ends the thread; the owner sees Running == false and LastError.
                Volatile.Write(ref lastError, "receiver stopped: " + e.GetType().Name + ": " + e.Message);
            }
            finally
            {
                if (socket != null) socket.Dispose();
            }
        }

        /// <summary>Stop the thread and close the socket (waits up to 2 s for the thread).</summary>
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            stop.Set();
            if (thread != null && !thread.Join(2000))
                Volatile.Write(ref lastError, "receiver thread did not stop within 2 s");
            stop.Close();
        }
    }

    /// <summary>Counts gaps in seq per (kind, stream) and notices restarts (seq going back).</summary>
    public sealed class SequenceTracker
    {
        readonly Dictionary<string, ulong> last = new Dictionary<string, ulong>();

        public long Gaps { get; private set; }       // messages missing
        public long Restarts { get; private set; }

        /// <summary>Returns false when the sequence went back: the publisher restarted.</summary>
        public bool Observe(Message m)
        {
            string key = Protocol.KindName(m.Kind) + "/" + m.Stream;
            ulong prev;
            bool seen = last.TryGetValue(key, out prev);
            last[key] = m.Seq;
            if (!seen) return true;
            if (m.Seq <= prev) { Restarts++; return false; }
            Gaps += (long)(m.Seq - prev - 1);
            return true;
        }

        public void Clear() { last.Clear(); }
    }
}
