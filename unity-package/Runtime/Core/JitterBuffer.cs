// A jitter buffer keyed by pts, and the playout clock that decides which pts is due.
// Both are pure (no clock reads, no threads): the caller passes "now", so tests are deterministic.
using System;
using System.Collections.Generic;

namespace VasaBridge.Core
{
    /// <summary>Items sorted by media time. Arrivals out of order are put in place; an item at or
    /// before the last one released is late and dropped; a repeated pts replaces the older item;
    /// beyond Capacity the oldest item is dropped. Not thread-safe: use it from one thread.</summary>
    public sealed class JitterBuffer<T>
    {
        readonly List<long> keys = new List<long>();
        readonly List<T> items = new List<T>();
        public readonly int Capacity;

        public long LateDrops { get; private set; }
        public long OverflowDrops { get; private set; }
        public long Skipped { get; private set; }    // released past without being shown
        public long? LastReleasedPts { get; private set; }

        public JitterBuffer(int capacity)
        {
            if (capacity < 2) throw new ArgumentException("capacity is " + capacity + ": expected at least 2");
            Capacity = capacity;
        }

        public int Count { get { return keys.Count; } }
        public long? OldestPts { get { return keys.Count > 0 ? keys[0] : (long?)null; } }
        public long? NewestPts { get { return keys.Count > 0 ? keys[keys.Count - 1] : (long?)null; } }

        /// <summary>False when the item came too late (its pts was already released).</summary>
        public bool Push(long pts, T item)
        {
            if (LastReleasedPts.HasValue && pts <= LastReleasedPts.Value) { LateDrops++; return false; }
            int i = keys.BinarySearch(pts);
            if (i >= 0) { items[i] = item; return true; }
            i = ~i;
            keys.Insert(i, pts);
            items.Insert(i, item);
            if (keys.Count > Capacity)
            {
                keys.RemoveAt(0);
                items.RemoveAt(0);
                OverflowDrops++;
            }
            return true;
        }

        /// <summary>Release the newest item due at playoutPts (pts &lt;= playoutPts); older due items
        /// are discarded (counted in Skipped). False when nothing is due.</summary>
        public bool TryPop(long playoutPts, out T item, out long pts)
        {
            int n = CountDue(playoutPts);
            if (n == 0) { item = default(T); pts = 0; return false; }
            item = items[n - 1];
            pts = keys[n - 1];
            Skipped += n - 1;
            keys.RemoveRange(0, n);
            items.RemoveRange(0, n);
            LastReleasedPts = pts;
            return true;
        }

        /// <summary>The items around playoutPts for interpolation: before = newest item with
        /// pts &lt;= playoutPts (kept in the buffer, older ones are discarded), after = the next one.
        /// Returns 0 (nothing due yet), 1 (only before: hold it) or 2 (both).</summary>
        public int Bracket(long playoutPts, out T before, out long beforePts, out T after, out long afterPts)
        {
            before = after = default(T);
            beforePts = afterPts = 0;
            int n = CountDue(playoutPts);
            if (n == 0) return 0;
            if (n > 1)
            {
                Skipped += n - 1;
                keys.RemoveRange(0, n - 1);
                items.RemoveRange(0, n - 1);
            }
            before = items[0];
            beforePts = keys[0];
            // Items before this one may not arrive any more; this one may still be interpolated from.
            LastReleasedPts = beforePts - 1;
            if (keys.Count < 2) return 1;
            after = items[1];
            afterPts = keys[1];
            return 2;
        }

        public void Clear()
        {
            keys.Clear();
            items.Clear();
            LastReleasedPts = null;
        }

        int CountDue(long playoutPts)
        {
            int i = keys.BinarySearch(playoutPts);
            return i >= 0 ? i + 1 : ~i;
        }
    }

    /// <summary>Maps the local monotonic clock to media time: playout = pts of the first arrival −
    /// delay, advancing with local time. It re-anchors (counted in Resyncs) when arrivals run
    /// ahead of or behind the playout point by more than Tolerance for long enough — the
    /// publisher's clock drifts, the network stalled, or the runtime restarted (pts jumped back).</summary>
    public sealed class PlayoutClock
    {
        public long DelayNs;
        public long ToleranceNs;
        long anchorLocal, anchorPts, lastArrivalPts;
        bool anchored;
        int outOfBand;

        public int Resyncs { get; private set; }
        public bool Anchored { get { return anchored; } }

        /// <param name="delayNs">buffering kept between the newest arrival and playout</param>
        /// <param name="toleranceNs">how far the lead may stray from delayNs before re-anchoring</param>
        public PlayoutClock(long delayNs, long toleranceNs)
        {
            if (delayNs < 0) throw new ArgumentException("delay is " + delayNs + " ns: expected >= 0");
            if (toleranceNs <= 0) throw new ArgumentException("tolerance is " + toleranceNs + " ns: expected > 0");
            DelayNs = delayNs;
            ToleranceNs = toleranceNs;
        }

        /// <summary>Note an arrival; returns true when the clock was (re)anchored, so that the
        /// caller can flush buffers on a discontinuity (a pts jump back means a restart).</summary>
        public bool OnArrival(long pts, long localNowNs)
        {
            if (!anchored) { Anchor(pts, localNowNs); return true; }
            bool restart = pts < lastArrivalPts - ToleranceNs - DelayNs;
            if (pts > lastArrivalPts) lastArrivalPts = pts;
            long lead = pts - PlayoutPts(localNowNs);
            bool outside = lead < DelayNs - ToleranceNs || lead > DelayNs + ToleranceNs;
            outOfBand = outside ? outOfBand + 1 : 0;
            // A single late packet is jitter; several in a row are drift or a stall.
            if (restart || outOfBand >= 3)
            {
                Anchor(pts, localNowNs);
                Resyncs++;
                return true;
            }
            return false;
        }

        void Anchor(long pts, long localNowNs)
        {
            anchored = true;
            anchorLocal = localNowNs;
            anchorPts = pts - DelayNs;
            lastArrivalPts = pts;
            outOfBand = 0;
        }

        public long PlayoutPts(long localNowNs)
        {
            if (!anchored) throw new InvalidOperationException("the playout clock has no arrival yet: call OnArrival first");
            return anchorPts + (localNowNs - anchorLocal);
        }

        public void Reset() { anchored = false; outOfBand = 0; }
    }

    /// <summary>Motion playout: buffers motion frames and samples them at any media time,
    /// interpolating between neighbours (slerp for the head) so a 25 fps stream drives a 60 fps
    /// render smoothly.</summary>
    public sealed class MotionPlayout
    {
        readonly JitterBuffer<MotionFrame> buffer;

        public MotionPlayout(int capacity = 64) { buffer = new JitterBuffer<MotionFrame>(capacity); }

        public JitterBuffer<MotionFrame> Buffer { get { return buffer; } }

        public bool Push(MotionFrame frame) { return buffer.Push(frame.Pts, frame); }

        /// <summary>Write the motion at playoutPts into result; false when nothing is due yet.</summary>
        public bool Sample(long playoutPts, MotionFrame result)
        {
            MotionFrame a, b;
            long pa, pb;
            int n = buffer.Bracket(playoutPts, out a, out pa, out b, out pb);
            if (n == 0) return false;
            if (n == 1 || pb == pa) { result.CopyFrom(a); return true; }
            double t = (double)(playoutPts - pa) / (pb - pa);
            MotionFrame.Interpolate(a, b, t, result);
            result.Pts = playoutPts;
            return true;
        }

        public void Clear() { buffer.Clear(); }
    }
}
