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
    /// (FMOD, Wwise): leave the AudioSource empty and call Drive(seconds, playing) each frame; the
    /// face holds the first frame until it is called.</summary>
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

        readonly BakedPlayback playback = new BakedPlayback();
        readonly MotionFrame frame = new MotionFrame();
        BakedSpeech current;
        bool driven, drivenPlaying;
        double drivenSeconds;

        /// <summary>Seconds into the current line the face shows.</summary>
        public double Time { get { return playback.Time; } }
        /// <summary>A line is playing or paused.</summary>
        public bool IsActive { get { return playback.State != BakedPlaybackState.Idle; } }
        public bool IsPaused { get { return playback.State == BakedPlaybackState.Paused; } }
        /// <summary>Waiting for a PlayScheduled start.</summary>
        public bool IsWaiting { get { return playback.Waiting; } }
        public BakedSpeech Current { get { return current; } }
        /// <summary>The motion shown this frame.</summary>
        public MotionFrame CurrentMotion { get { return frame; } }
        /// <summary>Seeks and loops the face followed.</summary>
        public int Jumps { get { return playback.Jumps; } }

        void OnEnable()
        {
            if (audioSource == null) audioSource = GetComponent<AudioSource>();
            if (playOnEnable && speech != null) Play(speech);
        }

        void OnDisable()
        {
            if (IsActive) Stop();
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
            if (audioSource == null) driven = true;  // no AudioSource: the position comes from Drive()
            if (!driven)
            {
                if (line.audio == null) { Warn("'" + line.name + "' has no AudioClip: put one beside the .vasatrack, or call Drive() each frame"); return false; }
                audioSource.clip = line.audio;
                audioSource.timeSamples = 0;
                if (dspTime >= 0) audioSource.PlayScheduled(dspTime); else audioSource.Play();
            }
            current = line;
            speech = line;
            playback.Begin(track, driven ? -1 : dspTime);
            return true;
        }

        public void Pause()
        {
            if (playback.State != BakedPlaybackState.Playing) return;
            playback.Pause();
            if (audioSource != null && !driven) audioSource.Pause();
        }

        public void UnPause()
        {
            if (playback.State != BakedPlaybackState.Paused) return;
            playback.UnPause();
            if (audioSource != null && !driven) audioSource.UnPause();
        }

        /// <summary>Jump to `seconds` into the line (sound and face together).</summary>
        public void Seek(double seconds)
        {
            if (!IsActive || audioSource == null || driven || audioSource.clip == null) return;
            int samples = (int)Math.Round(Math.Max(0, seconds) * audioSource.clip.frequency);
            audioSource.timeSamples = Math.Min(samples, Math.Max(0, audioSource.clip.samples - 1));
        }

        public void Stop()
        {
            if (!IsActive) return;
            if (audioSource != null && !driven && current != null && audioSource.clip == current.audio) audioSource.Stop();
            playback.Stop();
            Rest();
        }

        /// <summary>Feed the audio position yourself (middleware, cutscenes) instead of an AudioSource:
        /// call it every frame, before this component's Update, with seconds into the line.</summary>
        public void Drive(double seconds, bool playing)
        {
            driven = true;
            drivenSeconds = seconds;
            drivenPlaying = playing;
        }

        void Update()
        {
            if (!IsActive) return;
            bool finished, show;
            double now = UnityEngine.Time.realtimeSinceStartupAsDouble;
            playback.LatencySeconds = outputLatencyMs / 1000.0;
            if (driven) show = playback.UpdateDriven(drivenSeconds, drivenPlaying, now, frame, out finished);
            else
            {
                var clip = audioSource != null ? audioSource.clip : null;
                if (clip == null || clip != current.audio) { playback.Stop(); Rest(); return; }  // someone else took the source
                var reading = new AudioReading(audioSource.isPlaying, audioSource.timeSamples, clip.frequency, clip.samples,
                                               AudioSettings.dspTime, audioSource.pitch);
                show = playback.Update(reading, now, frame, out finished);
            }
            if (show) PublishMotion(frame);
            if (finished)
            {
                Rest();
                if (Finished != null) Finished(current);
            }
        }

        void Rest()
        {
            if (!neutralWhenIdle) return;
            Array.Clear(frame.Blendshapes, 0, frame.Blendshapes.Length);
            frame.HeadRotation = new Vec3(0, 0, 0);
            frame.HeadTranslation = new Vec3(0, 0, 0);
            PublishMotion(frame);
        }

        void Warn(string why) { Debug.LogWarning("[vasa_bridge] BakedSpeechPlayer on '" + name + "': " + why, this); }
    }
}
