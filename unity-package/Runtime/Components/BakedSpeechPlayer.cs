using System;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Plays baked lines (BakedSpeech) in sync with an AudioSource, with no runtime and no
    /// network: each frame it reads where the sound is (timeSamples, held while paused, jumping on
    /// seeks and loops, waiting for a PlayScheduled start on the DSP clock), smooths that through
    /// PlaybackClock, samples the track there and raises MotionUpdated — the event the blendshape,
    /// VRM and head-pose components already follow for the live client. Audio through middleware
    /// (FMOD, Wwise): leave the AudioSource empty and call Drive(seconds, playing) each frame.</summary>
    [AddComponentMenu("vasa_bridge/Baked Speech Player")]
    [DefaultExecutionOrder(-100)]
    public sealed class BakedSpeechPlayer : MotionSource
    {
        [Tooltip("The line played by Play() with no argument and on enable when playOnEnable is set.")]
        public BakedSpeech speech;
        [Tooltip("Plays the line's AudioClip; the face follows its playback position. Empty: the AudioSource on this object.")]
        public AudioSource audioSource;
        public bool playOnEnable = false;
        [Tooltip("Extra latency of the output device to compensate, ms (Bluetooth headsets: 150-250).")]
        [Range(0, 500)] public int outputLatencyMs = 0;
        [Tooltip("When a line ends or stops, show the neutral face (mouth closed, head straight) once; otherwise hold the last frame.")]
        public bool neutralWhenIdle = true;

        /// <summary>A line reached its end (not raised by Stop()).</summary>
        public event Action<BakedSpeech> Finished;

        readonly PlaybackClock clock = new PlaybackClock();
        readonly MotionFrame frame = new MotionFrame();
        BakedSpeech current;
        double scheduledDsp = -1;
        bool active, paused, driven, drivenPlaying;
        double drivenSeconds;

        /// <summary>Seconds into the current line the face shows.</summary>
        public double Time { get; private set; }
        /// <summary>A line is playing or paused.</summary>
        public bool IsActive { get { return active; } }
        public bool IsPaused { get { return paused; } }
        public BakedSpeech Current { get { return current; } }
        /// <summary>The motion shown this frame.</summary>
        public MotionFrame CurrentMotion { get { return frame; } }
        /// <summary>Seeks and loops the clock followed.</summary>
        public int Jumps { get { return clock.Jumps; } }

        void OnEnable()
        {
            if (audioSource == null) audioSource = GetComponent<AudioSource>();
            if (playOnEnable && speech != null) Play(speech);
        }

        void OnDisable()
        {
            if (active) Stop();
        }

        public void Play() { Play(speech); }

        /// <summary>Start a line now.</summary>
        public bool Play(BakedSpeech line) { return Begin(line, -1); }

        /// <summary>Start a line at a DSP time (AudioSettings.dspTime), for sample-accurate cues; the face
        /// holds the first frame until then.</summary>
        public bool PlayScheduled(BakedSpeech line, double dspTime) { return Begin(line, dspTime); }

        bool Begin(BakedSpeech line, double dspTime)
        {
            if (line == null) { Warn("no BakedSpeech to play"); return false; }
            BakedTrack track;
            string error;
            if (!line.TryGetTrack(out track, out error)) { Warn("'" + line.name + "' holds no valid track: " + error); return false; }
            current = line;
            speech = line;
            clock.Reset();
            paused = false;
            active = true;
            scheduledDsp = dspTime;
            if (audioSource != null && !driven)
            {
                if (line.audio == null) { Warn("'" + line.name + "' has no AudioClip: assign one, or drive the player with Drive()"); active = false; return false; }
                audioSource.clip = line.audio;
                audioSource.timeSamples = 0;
                if (dspTime >= 0) audioSource.PlayScheduled(dspTime); else audioSource.Play();
            }
            return true;
        }

        public void Pause()
        {
            if (!active || paused) return;
            paused = true;
            if (audioSource != null && !driven) audioSource.Pause();
        }

        public void UnPause()
        {
            if (!active || !paused) return;
            paused = false;
            if (audioSource != null && !driven) audioSource.UnPause();
        }

        /// <summary>Jump to `seconds` into the line (sound and face together).</summary>
        public void Seek(double seconds)
        {
            if (!active || audioSource == null || driven || audioSource.clip == null) return;
            int samples = (int)Math.Round(Math.Max(0, seconds) * audioSource.clip.frequency);
            audioSource.timeSamples = Math.Min(samples, Math.Max(0, audioSource.clip.samples - 1));
        }

        public void Stop()
        {
            if (audioSource != null && !driven && current != null && audioSource.clip == current.audio) audioSource.Stop();
            End(false);
        }

        /// <summary>Feed the audio position yourself (middleware, cutscenes) instead of an AudioSource:
        /// call every frame before this component's Update with seconds into the line.</summary>
        public void Drive(double seconds, bool playing)
        {
            driven = true;
            drivenSeconds = seconds;
            drivenPlaying = playing;
        }

        void Update()
        {
            if (!active || current == null) return;
            double reported;
            bool playing;
            if (driven)
            {
                reported = drivenSeconds;
                playing = drivenPlaying;
            }
            else
            {
                if (audioSource == null) { Warn("no AudioSource to follow: add one or call Drive()"); End(false); return; }
                var clip = audioSource.clip;
                if (clip == null || clip != current.audio) { End(false); return; }  // someone else took the source
                bool waiting = scheduledDsp >= 0 && AudioSettings.dspTime < scheduledDsp;
                playing = audioSource.isPlaying && !waiting;
                int samples = audioSource.timeSamples;
                if (!audioSource.isPlaying && !paused && !waiting && (samples == 0 || samples >= clip.samples - 1))
                {
                    End(true);  // the clip ran out (or was stopped from outside)
                    return;
                }
                reported = clip.frequency > 0 ? (double)samples / clip.frequency : 0;
            }
            double t = clock.Update(reported, playing, UnityEngine.Time.realtimeSinceStartupAsDouble,
                                    audioSource != null && !driven ? audioSource.pitch : 1.0);
            Time = t - (playing ? outputLatencyMs / 1000.0 : 0);
            current.Track.Sample(Time, frame);
            PublishMotion(frame);
            if (driven && !playing && reported >= current.Track.Duration) End(true);
        }

        void End(bool finished)
        {
            var line = current;
            active = false;
            paused = false;
            scheduledDsp = -1;
            if (neutralWhenIdle)
            {
                Array.Clear(frame.Blendshapes, 0, frame.Blendshapes.Length);
                frame.HeadRotation = new Vec3(0, 0, 0);
                frame.HeadTranslation = new Vec3(0, 0, 0);
                PublishMotion(frame);
            }
            if (finished && Finished != null && line != null) Finished(line);
        }

        void Warn(string why) { Debug.LogWarning("[vasa_bridge] BakedSpeechPlayer on '" + name + "': " + why, this); }
    }
}
