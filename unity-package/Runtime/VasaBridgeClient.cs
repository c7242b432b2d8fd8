// The one receiver: a background thread (Core.Receiver) fills a queue; Update drains it, keeps
// motion and frames in jitter buffers keyed by pts, and publishes what is due now through events.
// Small components consume the events (blendshapes, VRM, head pose, texture, audio).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using UnityEngine;
using VasaBridge.Core;
using Debug = UnityEngine.Debug;

namespace VasaBridge
{
    /// <summary>A clock that says which media time is being heard now (AudioSyncPlayer). When one is
    /// attached and running, motion and frames follow it, so face and voice stay together.</summary>
    public interface IMediaClock
    {
        bool TryGetPlayoutPts(out long pts);
    }

    [AddComponentMenu("vasa_bridge/Vasa Bridge Client")]
    [DefaultExecutionOrder(-100)]
    [DisallowMultipleComponent]
    public sealed class VasaBridgeClient : MotionSource
    {
        [Tooltip("Endpoints, stream and timing. Left empty: the defaults (tcp://127.0.0.1:5555, stream 'default').")]
        public VasaBridgeSettings settings;
        [Tooltip("Overrides the settings' stream id (one client per NPC). Empty: use the settings'.")]
        public string streamOverride = "";
        [Tooltip("Most messages handled per frame; the rest wait for the next Update.")]
        [Range(1, 1000)] public int maxMessagesPerUpdate = 200;

        /// <summary>A rendered frame whose pts is due now.</summary>
        public event Action<FrameMessage> FrameReady;
        /// <summary>Audio as it arrives (ahead of playout by the delay; the player buffers it).</summary>
        public event Action<AudioMessage> AudioReceived;
        public event Action<EventMessage> EventReceived;
        public event Action<HelloMessage> HelloReceived;
        /// <summary>The runtime restarted or the stream jumped: consumers drop what they buffered.</summary>
        public event Action StreamRestarted;

        Receiver receiver;
        Action stopper;
        bool acquired;
        readonly MotionFrame current = new MotionFrame();
        StreamPlayer player;
        IMediaClock mediaClock;
        VasaBridgeSettings active, defaults;

        VasaBridgeSettings Defaults()
        {
            if (defaults == null) defaults = VasaBridgeSettings.CreateDefault();
            return defaults;
        }
        bool warnedBadMotion;

        // ---- live values (the inspector shows them) ----
        public string Stream { get { return string.IsNullOrEmpty(streamOverride) ? Settings.stream : streamOverride; } }
        public VasaBridgeSettings Settings { get { return active != null ? active : (settings != null ? settings : Defaults()); } }
        public bool HasMotion { get; private set; }
        /// <summary>The motion shown this frame (valid while HasMotion).</summary>
        public MotionFrame CurrentMotion { get { return current; } }
        public long PlayoutPts { get; private set; }
        public double LatencyMs { get; private set; }
        public HelloMessage LastHello { get; private set; }
        public EventMessage LastEvent { get; private set; }
        public string Status { get; private set; }
        public long Received { get { return receiver != null ? receiver.Received : 0; } }
        public long ProtocolErrors { get { return (receiver != null ? receiver.ProtocolErrors : 0) + (player != null ? player.BadMotion : 0); } }
        public long QueueDrops { get { return receiver != null ? receiver.QueueDrops : 0; } }
        public long Reconnects { get { return receiver != null ? receiver.Reconnects : 0; } }
        public long Gaps { get { return player != null ? player.Sequences.Gaps : 0; } }
        public long Restarts { get { return player != null ? player.Restarts : 0; } }
        public long LateFrames { get { return player != null ? player.Motion.Buffer.LateDrops + player.Frames.LateDrops : 0; } }
        public int Resyncs { get { return player != null ? player.Clock.Resyncs : 0; } }
        public string LastError { get { return receiver != null ? receiver.LastError : null; } }
        public bool Connected { get { return receiver != null && receiver.SecondsSinceLastMessage < 2.0; } }
        public bool FollowsAudio { get; private set; }

        static long NowNs() { return (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency)); }
        static long UnixNowNs() { return (DateTime.UtcNow.Ticks - 621355968000000000L) * 100; }

        /// <summary>Let an audio player drive playout (null to go back to the local clock).</summary>
        public void SetMediaClock(IMediaClock clock) { mediaClock = clock; }

        void OnEnable()
        {
            active = settings != null ? settings : Defaults();
            var s = active;
            if (!Protocol.IsValidStream(Stream))
            {
                Status = "stream id '" + Stream + "' is invalid: expected 1-64 of A-Z a-z 0-9 _ . -";
                Debug.LogError("[vasa_bridge] " + Status, this);
                return;
            }
            player = new StreamPlayer(s.playoutDelayMs * 1000000L, s.resyncToleranceMs * 1000000L, s.receiveMotion);
            var factory = SocketFactories.Create();
            if (factory == null) { Status = "no transport (install NetMQ)"; return; }
            SocketFactories.Acquire();
            acquired = true;
            var rs = new ReceiverSettings
            {
                Endpoint = s.dataEndpoint,
                MaxMessageBytes = s.maxMessageMiB * 1024L * 1024L,
                QueueCapacity = s.queueCapacity,
                ReconnectAfterMs = (int)(s.reconnectAfterSeconds * 1000),
            };
            if (s.receiveMotion) rs.Subscriptions.Add(Protocol.Subscription(MessageKind.Motion, Stream));
            if (s.receiveFrames) rs.Subscriptions.Add(Protocol.Subscription(MessageKind.Frame, Stream));
            if (s.receiveAudio) rs.Subscriptions.Add(Protocol.Subscription(MessageKind.Audio, Stream));
            if (s.receiveEvents) rs.Subscriptions.Add(Protocol.Subscription(MessageKind.Event, Stream));
            rs.Subscriptions.Add(Protocol.Subscription(MessageKind.Hello));
            receiver = new Receiver(factory, rs);
            var r = receiver;
            stopper = () => r.Dispose();
            SocketFactories.RegisterStopper(stopper);
            receiver.Start();
            Status = "waiting for " + s.dataEndpoint + " (stream " + Stream + ")";
        }

        void OnDisable()
        {
            if (receiver != null)
            {
                SocketFactories.UnregisterStopper(stopper);
                receiver.Dispose();
                receiver = null;
            }
            if (acquired) { SocketFactories.Release(); acquired = false; }
            if (player != null) player.Reset();
            HasMotion = false;
            LastHello = null;  // the next connection's hello says which streams exist
            Status = "disabled";
        }

        void Update()
        {
            if (receiver == null) return;
            Message m;
            for (int i = 0; i < maxMessagesPerUpdate && receiver.TryDequeue(out m); i++) Handle(m);
            if (!receiver.Running && receiver.LastError != null) Status = receiver.LastError;
            else Status = ClientStatus.Describe(Settings.dataEndpoint, Stream, Connected, LastHello);
            PlayOut();
        }

        void Handle(Message m)
        {
            LatencyMs = (UnixNowNs() - m.Sent) / 1e6;
            if (player.Handle(m, NowNs()) && StreamRestarted != null) StreamRestarted();
            if (player.BadMotion > 0 && !warnedBadMotion)
            {
                warnedBadMotion = true;
                Debug.LogWarning("[vasa_bridge] dropped a motion message: " + player.LastBadMotion, this);
            }
            switch (m.Kind)
            {
                case MessageKind.Audio:
                    if (AudioReceived != null) AudioReceived((AudioMessage)m);
                    break;
                case MessageKind.Event:
                    LastEvent = (EventMessage)m;
                    if (EventReceived != null) EventReceived(LastEvent);
                    break;
                case MessageKind.Hello:
                    LastHello = (HelloMessage)m;
                    if (HelloReceived != null) HelloReceived(LastHello);
                    break;
            }
        }

        void PlayOut()
        {
            long audioPts = 0;
            FollowsAudio = mediaClock != null && mediaClock.TryGetPlayoutPts(out audioPts);
            long? external = FollowsAudio ? audioPts : (long?)null;
            bool hasMotion;
            FrameMessage frame;
            if (!player.PlayOut(NowNs(), external, current, out hasMotion, out frame)) return;
            PlayoutPts = player.PlayoutPts;
            if (hasMotion)
            {
                HasMotion = true;
                PublishMotion(current);  // MotionSource.MotionUpdated: the motion due now, interpolated between frames
            }
            if (frame != null && FrameReady != null) FrameReady(frame);
        }

        /// <summary>A control client for this client's endpoint (use it from a worker thread).</summary>
        public ControlClient CreateControlClient()
        {
            var f = SocketFactories.Create();
            if (f == null) throw new InvalidOperationException("no transport: install NetMQ (see Documentation~)");
            return new ControlClient(f, Settings.controlEndpoint, (int)(Settings.controlTimeoutSeconds * 1000));
        }
    }
}
