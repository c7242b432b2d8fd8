// Audio playback position -> a smooth track time, without clocks of its own (the caller passes
// "now"), so tests drive it with a simulated audio device.
//
// Why: Unity's AudioSource.timeSamples (and AudioSettings.dspTime) advance in steps of one DSP
// buffer (256-4096 samples: 5-85 ms), so reading it each frame makes the face stutter; a game
// clock alone drifts from the sound and knows nothing of pauses, seeks or loops. This clock runs
// on the smooth frame clock between steps and locks onto the audio position at each step:
//   - playing, position steps forward as predicted: nudge towards it (never backwards);
//   - the position jumps by more than the tolerance (a seek, a loop, a hitch): snap to it;
//   - the position stops stepping while "playing" (a scheduled start not reached yet, a starved
//     or paused device): run at most MaxLead past the last reported position, then hold;
//   - not playing (paused, stopped): the reported position, as it is.
using System;

namespace VasaBridge.Core
{
    public sealed class PlaybackClock
    {
        /// <summary>A step in the reported position further than this from the prediction is a jump (seconds).</summary>
        public readonly double JumpTolerance;
        /// <summary>Share of the prediction error corrected at each step of the reported position.</summary>
        public readonly double Gain;
        /// <summary>How far past the last reported position the clock may run when the position stops stepping (seconds).</summary>
        public readonly double MaxLead;

        double time, lastNow, lastReported;
        double bufferStep;   // the smallest step of the reported position seen: one DSP buffer
        bool running;

        public PlaybackClock(double jumpTolerance = 0.15, double gain = 0.25, double maxLead = 0.1)
        {
            if (!(jumpTolerance > 0)) throw new ArgumentOutOfRangeException("jumpTolerance", "jumpTolerance is " + jumpTolerance + ": expected seconds > 0");
            if (!(gain > 0 && gain <= 1)) throw new ArgumentOutOfRangeException("gain", "gain is " + gain + ": expected a number in (0, 1]");
            if (!(maxLead >= 0)) throw new ArgumentOutOfRangeException("maxLead", "maxLead is " + maxLead + ": expected seconds >= 0");
            JumpTolerance = jumpTolerance;
            Gain = gain;
            MaxLead = maxLead;
        }

        /// <summary>Seconds into the audio clip that the face should show now.</summary>
        public double Time { get { return time; } }
        /// <summary>True while the audio is playing (the clock is following it).</summary>
        public bool Running { get { return running; } }
        /// <summary>Seeks, loops and hitches seen while playing (each snapped the clock).</summary>
        public int Jumps { get; private set; }

        /// <summary>Forget everything (a new clip).</summary>
        public void Reset()
        {
            time = lastNow = lastReported = bufferStep = 0;
            running = false;
            Jumps = 0;
        }

        /// <summary>Call once per frame. reported: the audio position in seconds (timeSamples / frequency);
        /// playing: whether the source is playing (false when paused or stopped); now: a smooth, monotonic
        /// clock in seconds (e.g. Time.realtimeSinceStartupAsDouble); rate: the playback speed (AudioSource.pitch).
        /// Returns the track time to show.</summary>
        public double Update(double reported, bool playing, double now, double rate = 1.0)
        {
            if (!playing || double.IsNaN(reported))
            {
                running = false;
                time = double.IsNaN(reported) ? time : reported;
                lastReported = time;
                lastNow = now;
                return time;
            }
            if (!running)
            {
                running = true;
                time = lastReported = reported;
                lastNow = now;
                return time;
            }
            double dt = now - lastNow;
            if (dt < 0 || double.IsNaN(dt)) dt = 0;
            lastNow = now;
            double predicted = time + dt * (rate > 0 ? rate : 0);  // clip seconds
            if (reported != lastReported)
            {
                // The position stepped since the last frame, so the sound is now somewhere in
                // [reported, reported + min(dt, one step)): aim at the middle of that window.
                double step = reported - lastReported;
                if (step > 0 && step < JumpTolerance && (step < bufferStep || bufferStep == 0)) bufferStep = step;
                double advanced = dt * (rate > 0 ? rate : 0);
                double window = bufferStep > 0 ? Math.Min(advanced, bufferStep) : advanced;
                double error = reported + 0.5 * window - predicted;
                if (Math.Abs(reported - predicted) > JumpTolerance)
                {
                    time = reported;
                    Jumps++;
                }
                else time = Math.Max(time, predicted + Gain * error);  // never backwards while playing
                lastReported = reported;
            }
            else time = Math.Min(predicted, Math.Max(time, reported + MaxLead));
            return time;
        }
    }
}
