// What the Unity client does with decoded messages, without Unity: motion and frames go into
// jitter buffers keyed by pts; a playout clock (or an external one: the audio being heard) says
// which pts is due; a pts jump back or a hello sequence restart flushes the buffers.
// Pure: the caller passes "now" (ns, any monotonic origin).
using System;

namespace VasaBridge.Core
{
    public sealed class StreamPlayer
    {
        public readonly PlayoutClock Clock;
        public readonly MotionPlayout Motion = new MotionPlayout(64);
        public readonly JitterBuffer<FrameMessage> Frames = new JitterBuffer<FrameMessage>(8);
        public readonly SequenceTracker Sequences = new SequenceTracker();
        /// <summary>True: motion arrivals drive the playout clock; false: frames do (a screen with no motion).</summary>
        public readonly bool MotionDrivesClock;

        public long BadMotion { get; private set; }
        public string LastBadMotion { get; private set; }
        public int Restarts { get; private set; }
        public long PlayoutPts { get; private set; }

        public StreamPlayer(long delayNs, long toleranceNs, bool motionDrivesClock)
        {
            Clock = new PlayoutClock(delayNs, toleranceNs);
            MotionDrivesClock = motionDrivesClock;
        }

        /// <summary>Take one message. Returns true when it revealed a restart (the caller tells its
        /// consumers to drop what they buffered, e.g. audio).</summary>
        public bool Handle(Message m, long nowNs)
        {
            bool restart = !Sequences.Observe(m) && m.Kind == MessageKind.Hello;
            if (restart) Flush();
            if (m.Kind == MessageKind.Motion)
            {
                MotionFrame f;
                try { f = ((MotionMessage)m).ToMotionFrame(); }
                catch (ProtocolException e)
                {
                    BadMotion++;
                    LastBadMotion = e.Message;
                    return restart;
                }
                if (MotionDrivesClock) restart |= Arrive(m.Pts, Motion.Buffer.LastReleasedPts, nowNs);
                Motion.Push(f);
            }
            else if (m.Kind == MessageKind.Frame)
            {
                if (!MotionDrivesClock) restart |= Arrive(m.Pts, Frames.LastReleasedPts, nowNs);
                Frames.Push(m.Pts, (FrameMessage)m);
            }
            return restart;
        }

        // A re-anchor to a pts at or before what was already shown means a new session on the same
        // stream (pts jumped back): drop the old buffers.
        bool Arrive(long pts, long? lastShown, long nowNs)
        {
            if (Clock.OnArrival(pts, nowNs) && lastShown.HasValue && pts <= lastShown.Value)
            {
                Flush();
                return true;
            }
            return false;
        }

        void Flush()
        {
            Motion.Clear();
            Frames.Clear();
            Restarts++;
        }

        /// <summary>What is due now. externalPts (the audio being heard) wins over the local clock.
        /// motion receives the interpolated motion when there is some (hasMotion); frame is the
        /// newest frame due that was not shown yet, or null. False before anything arrived.</summary>
        public bool PlayOut(long nowNs, long? externalPts, MotionFrame motion, out bool hasMotion, out FrameMessage frame)
        {
            hasMotion = false;
            frame = null;
            long pts;
            if (externalPts.HasValue) pts = externalPts.Value;
            else if (Clock.Anchored) pts = Clock.PlayoutPts(nowNs);
            else return false;
            PlayoutPts = pts;
            hasMotion = Motion.Sample(pts, motion);
            long framePts;
            Frames.TryPop(pts, out frame, out framePts);
            return true;
        }

        public void Reset()
        {
            Motion.Clear();
            Frames.Clear();
            Sequences.Clear();
            Clock.Reset();
        }
    }
}
