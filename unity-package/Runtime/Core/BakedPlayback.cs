// The baked player's logic without Unity: one line, what its AudioSource says each frame (playing?
// which sample? the DSP clock for a scheduled start), and the motion to show. BakedSpeechPlayer is
// a thin MonoBehaviour over this; the tests drive it with a simulated AudioSource.
//
// Unity's AudioSource, as read here: Play() sets isPlaying at once and timeSamples from 0;
// PlayScheduled(t) sets isPlaying at once but timeSamples stays 0 until AudioSettings.dspTime
// reaches t; Pause() clears isPlaying and keeps timeSamples; Stop(), and a clip that runs out,
// clear isPlaying and timeSamples; setting timeSamples seeks; a looping clip wraps timeSamples.
namespace VasaBridge.Core
{
    public enum BakedPlaybackState { Idle, Playing, Paused }

    /// <summary>One frame's reading of an AudioSource and the audio clock.</summary>
    public struct AudioReading
    {
        public bool IsPlaying;    // AudioSource.isPlaying
        public int TimeSamples;   // AudioSource.timeSamples
        public int Frequency;     // AudioClip.frequency
        public int ClipSamples;   // AudioClip.samples
        public double DspTime;    // AudioSettings.dspTime
        public double Pitch;      // AudioSource.pitch

        public AudioReading(bool isPlaying, int timeSamples, int frequency, int clipSamples, double dspTime = 0, double pitch = 1)
        {
            IsPlaying = isPlaying; TimeSamples = timeSamples; Frequency = frequency; ClipSamples = clipSamples;
            DspTime = dspTime; Pitch = pitch;
        }
    }

    public sealed class BakedPlayback
    {
        readonly PlaybackClock clock;
        double scheduledDsp = -1;
        bool heard;   // the sound was seen playing: only then does "not playing at sample 0" mean the end

        public BakedPlayback(PlaybackClock clock = null) { this.clock = clock ?? new PlaybackClock(); }

        public BakedTrack Track { get; private set; }
        public BakedPlaybackState State { get; private set; }
        /// <summary>Seconds into the line the face shows (after the latency offset).</summary>
        public double Time { get; private set; }
        /// <summary>The output device's extra latency: the face shows this much earlier in the line.</summary>
        public double LatencySeconds { get; set; }
        /// <summary>Seeks and loops followed.</summary>
        public int Jumps { get { return clock.Jumps; } }
        public bool Waiting { get; private set; }

        /// <summary>A new line; scheduledDsp is the DSP time of a PlayScheduled start (negative: now).</summary>
        public void Begin(BakedTrack track, double scheduledDsp = -1)
        {
            if (track == null) throw new System.ArgumentNullException("track");
            Track = track;
            this.scheduledDsp = scheduledDsp;
            clock.Reset();
            heard = false;
            Time = 0;
            State = BakedPlaybackState.Playing;
        }

        public void Pause() { if (State == BakedPlaybackState.Playing) State = BakedPlaybackState.Paused; }
        public void UnPause() { if (State == BakedPlaybackState.Paused) State = BakedPlaybackState.Playing; }
        public void Stop() { State = BakedPlaybackState.Idle; }

        /// <summary>One frame against an AudioSource. Writes the motion to show into result and returns
        /// true, or returns false when there is nothing to show: idle, or the line has just ended (then
        /// finished is true, once).</summary>
        public bool Update(AudioReading audio, double now, MotionFrame result, out bool finished)
        {
            finished = false;
            if (State == BakedPlaybackState.Idle) return false;
            Waiting = scheduledDsp >= 0 && audio.DspTime < scheduledDsp;
            bool sounding = audio.IsPlaying && !Waiting;
            if (sounding && audio.TimeSamples > 0) heard = true;
            if (heard && !audio.IsPlaying && State == BakedPlaybackState.Playing
                && (audio.TimeSamples == 0 || audio.TimeSamples >= audio.ClipSamples - 1))
            {
                State = BakedPlaybackState.Idle;   // the clip ran out, or the source was stopped from outside
                finished = true;
                return false;
            }
            double reported = audio.Frequency > 0 ? (double)audio.TimeSamples / audio.Frequency : 0;
            bool playing = sounding && State == BakedPlaybackState.Playing;
            Show(clock.Update(reported, playing, now, audio.Pitch), result);
            return true;
        }

        /// <summary>One frame with the position given directly (middleware such as FMOD or Wwise, a
        /// cutscene's timeline): seconds into the line and whether it is playing. The line ends when it
        /// stops at or past its last frame.</summary>
        public bool UpdateDriven(double seconds, bool playing, double now, MotionFrame result, out bool finished)
        {
            finished = false;
            if (State == BakedPlaybackState.Idle) return false;
            Waiting = false;
            if (playing && seconds > 0) heard = true;
            if (heard && !playing && State == BakedPlaybackState.Playing && seconds >= Track.LastFrameTime)
            {
                State = BakedPlaybackState.Idle;
                finished = true;
                return false;
            }
            Show(clock.Update(seconds, playing && State == BakedPlaybackState.Playing, now), result);
            return true;
        }

        void Show(double clockTime, MotionFrame result)
        {
            Time = clockTime - LatencySeconds;
            Track.Sample(Time, result);
        }
    }
}
