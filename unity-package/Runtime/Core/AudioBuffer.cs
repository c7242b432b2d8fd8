// Audio for playback: a thread-safe ring of interleaved floats at the output rate and channel
// count, fed from wire messages (resampled linearly, channels mapped) and drained by Unity's audio
// thread. It knows the media time of the next sample it hands out, which makes audio the master
// clock that motion and frames follow.
using System;

namespace VasaBridge.Core
{
    public sealed class AudioBuffer
    {
        readonly object gate = new object();
        readonly float[] ring;
        readonly int outRate, outChannels;
        int read, count;            // in floats
        long readPts;               // media time of the sample at the read head, ns
        bool hasPts;
        double srcPos;              // resampler phase, in source frames, carried across messages
        float[] lastFrame;          // the previous source frame, for interpolation across messages
        int lastChannels;
        float[] scratch = new float[0];

        public long Underruns { get; private set; }   // reads that found too little
        public long Overflows { get; private set; }   // samples dropped because the ring was full

        /// <param name="seconds">ring capacity</param>
        public AudioBuffer(int outputRate, int outputChannels, double seconds = 2.0)
        {
            if (outputRate <= 0 || outputChannels <= 0)
                throw new ArgumentException("output is " + outputRate + " Hz x " + outputChannels + " channels: expected positive values");
            outRate = outputRate;
            outChannels = outputChannels;
            ring = new float[(int)(outputRate * seconds) * outputChannels];
        }

        public int OutputRate { get { return outRate; } }
        public int OutputChannels { get { return outChannels; } }

        /// <summary>Seconds of audio waiting.</summary>
        public double Buffered { get { lock (gate) return (double)count / outChannels / outRate; } }

        /// <summary>Media time (ns) of the next sample Read hands out; null before any audio.</summary>
        public long? ReadPts { get { lock (gate) return hasPts ? readPts : (long?)null; } }

        /// <summary>Append one message. A pts that does not continue the buffered audio (a gap,
        /// an overlap of more than 50 ms, or a restart) flushes the ring and starts again there.</summary>
        public void Write(AudioMessage m)
        {
            int n = m.Samples * m.Channels;
            if (scratch.Length < n) scratch = new float[n];
            m.ReadFloats(scratch);
            Write(scratch, m.Samples, m.Channels, m.Rate, m.Pts);
        }

        public void Write(float[] interleaved, int frames, int channels, int rate, long pts)
        {
            lock (gate)
            {
                long endPts = readPts + (long)((double)count / outChannels * 1e9 / outRate);
                if (!hasPts || count == 0 || Math.Abs(pts - endPts) > 50000000L)
                {
                    read = 0; count = 0; srcPos = 0; lastFrame = null;
                    readPts = pts; hasPts = true;
                }
                if (frames <= 0) return;
                if (lastFrame == null || lastChannels != channels) { lastFrame = new float[channels]; lastChannels = channels; srcPos = 0; }
                double step = (double)rate / outRate;
                // Output sample k sits at source position srcPos + k*step. Position -1 is the previous
                // message's last frame, so consecutive messages join without a click.
                while (srcPos <= frames - 1 + 1e-9)
                {
                    int i0 = (int)Math.Floor(srcPos);
                    if (i0 > frames - 1) i0 = frames - 1;
                    double t = srcPos - i0;
                    if (count + outChannels > ring.Length) DropOldestFrame();
                    for (int c = 0; c < outChannels; c++)
                    {
                        float a = Sample(interleaved, channels, i0, c);
                        float b = i0 + 1 <= frames - 1 ? Sample(interleaved, channels, i0 + 1, c) : a;
                        ring[(read + count) % ring.Length] = (float)(a + (b - a) * t);
                        count++;
                    }
                    srcPos += step;
                }
                srcPos -= frames;
                for (int c = 0; c < channels; c++) lastFrame[c] = interleaved[(frames - 1) * channels + c];
            }
        }

        // Channel mapping: mono feeds every output channel; more inputs than outputs are averaged
        // into mono when the output is mono, otherwise channel c takes input c (or the last one).
        float Sample(float[] src, int channels, int frame, int outChannel)
        {
            if (frame < 0) return Mix(lastFrame, channels, outChannel);
            int b = frame * channels;
            if (channels == 1) return src[b];
            if (outChannels == 1)
            {
                float s = 0;
                for (int c = 0; c < channels; c++) s += src[b + c];
                return s / channels;
            }
            return src[b + Math.Min(outChannel, channels - 1)];
        }

        float Mix(float[] frame, int channels, int outChannel)
        {
            if (channels == 1) return frame[0];
            if (outChannels == 1)
            {
                float s = 0;
                for (int c = 0; c < channels; c++) s += frame[c];
                return s / channels;
            }
            return frame[Math.Min(outChannel, channels - 1)];
        }

        void DropOldestFrame()
        {
            read = (read + outChannels) % ring.Length;
            count -= outChannels;
            Overflows++;
            readPts += (long)Math.Round(1e9 / outRate);
        }

        /// <summary>Fill dst with interleaved output samples (whole frames); silence where audio ran
        /// out. Returns how many floats came from real audio.</summary>
        public int Read(float[] dst, int offset, int n)
        {
            lock (gate)
            {
                int take = Math.Min(n, count);
                take -= take % outChannels;
                for (int i = 0; i < take; i++) dst[offset + i] = ring[(read + i) % ring.Length];
                for (int i = take; i < n; i++) dst[offset + i] = 0f;
                read = (read + take) % ring.Length;
                count -= take;
                if (hasPts) readPts += (long)Math.Round(take / (double)outChannels * 1e9 / outRate);
                if (take < n && hasPts) Underruns++;
                return take;
            }
        }

        public void Clear()
        {
            lock (gate) { read = 0; count = 0; hasPts = false; lastFrame = null; srcPos = 0; }
        }
    }
}
