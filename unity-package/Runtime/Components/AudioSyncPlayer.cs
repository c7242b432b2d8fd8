using System.Diagnostics;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Plays the runtime's sound through an AudioSource (so it can be 3D, mixed, routed) and
    /// becomes the client's media clock: motion and frames follow the pts being heard, which keeps
    /// face and voice together whatever the network and the audio device do. Audio is buffered for
    /// the settings' playout delay before it starts, and again after an underrun.</summary>
    [AddComponentMenu("vasa_bridge/Audio Sync Player")]
    [RequireComponent(typeof(AudioSource))]
    public sealed class AudioSyncPlayer : ClientConsumer, IMediaClock
    {
        [Tooltip("Extra latency of the output device to compensate, ms (Bluetooth headsets: 150-250).")]
        [Range(0, 500)] public int outputLatencyMs = 0;

        AudioSource source;
        AudioBuffer buffer;
        int outputRate, outputChannels;
        double prebufferSeconds;
        volatile bool playing;
        float[] scratch = new float[0];
        // Written by the audio thread, read by the main thread (under 'gate').
        readonly object gate = new object();
        long heardPts, heardTicks;
        bool heard;

        public double BufferedSeconds { get { return buffer != null ? buffer.Buffered : 0; } }
        public long Underruns { get { return buffer != null ? buffer.Underruns : 0; } }
        public bool Playing { get { return playing; } }

        protected override void OnEnable()
        {
            source = GetComponent<AudioSource>();
            outputRate = AudioSettings.outputSampleRate;
            outputChannels = ChannelCount(AudioSettings.speakerMode);
            buffer = new AudioBuffer(outputRate, outputChannels, 4.0);
            // A silent looping clip keeps the source playing; OnAudioFilterRead writes the real sound.
            source.clip = AudioClip.Create("vasa_bridge stream", outputRate, outputChannels, outputRate, false);
            source.loop = true;
            source.Play();
            base.OnEnable();
            if (client != null)
            {
                prebufferSeconds = client.Settings.playoutDelayMs / 1000.0;
                client.SetMediaClock(this);
            }
        }

        protected override void OnDisable()
        {
            if (client != null) client.SetMediaClock(null);
            base.OnDisable();
            if (source != null)
            {
                source.Stop();
                if (source.clip != null) Destroy(source.clip);
                source.clip = null;
            }
            playing = false;
            lock (gate) heard = false;
        }

        protected override void Subscribe(VasaBridgeClient c)
        {
            c.AudioReceived += OnAudio;
            c.StreamRestarted += OnRestart;
        }

        protected override void Unsubscribe(VasaBridgeClient c)
        {
            c.AudioReceived -= OnAudio;
            c.StreamRestarted -= OnRestart;
        }

        void OnAudio(AudioMessage m) { buffer.Write(m); }

        void OnRestart()
        {
            buffer.Clear();
            playing = false;
            lock (gate) heard = false;
        }

        static int ChannelCount(AudioSpeakerMode mode)
        {
            switch (mode)
            {
                case AudioSpeakerMode.Mono: return 1;
                case AudioSpeakerMode.Quad: return 4;
                case AudioSpeakerMode.Surround: return 5;
                case AudioSpeakerMode.Mode5point1: return 6;
                case AudioSpeakerMode.Mode7point1: return 8;
                default: return 2;
            }
        }

        // Audio thread. Copies from the ring only (no allocation once warmed up, no Unity API).
        void OnAudioFilterRead(float[] data, int channels)
        {
            if (buffer == null) return;
            if (!playing)
            {
                if (buffer.Buffered < prebufferSeconds) { System.Array.Clear(data, 0, data.Length); return; }
                playing = true;
            }
            long pts = buffer.ReadPts ?? 0;
            int got;
            if (channels == outputChannels) got = buffer.Read(data, 0, data.Length);
            else
            {
                // The device changed its layout under us: map channel by channel.
                int frames = data.Length / channels;
                if (scratch.Length < frames * outputChannels) scratch = new float[frames * outputChannels];
                got = buffer.Read(scratch, 0, frames * outputChannels);
                for (int i = 0; i < frames; i++)
                    for (int c = 0; c < channels; c++) data[i * channels + c] = scratch[i * outputChannels + System.Math.Min(c, outputChannels - 1)];
            }
            if (got < data.Length) playing = false;  // underrun: buffer up again
            lock (gate) { heardPts = pts; heardTicks = Stopwatch.GetTimestamp(); heard = playing; }
        }

        /// <summary>The pts reaching the listener now: the last block handed to the device, advanced
        /// by the time since, minus the device's buffering.</summary>
        public bool TryGetPlayoutPts(out long pts)
        {
            lock (gate)
            {
                pts = 0;
                if (!heard) return false;
                double since = (double)(Stopwatch.GetTimestamp() - heardTicks) / Stopwatch.Frequency;
                int length, count;
                AudioSettings.GetDSPBufferSize(out length, out count);
                double device = (double)length * count / outputRate + outputLatencyMs / 1000.0;
                pts = heardPts + (long)((since - device) * 1e9);
                return true;
            }
        }
    }
}
