// Decoded wire messages, one class per kind (docs/protocol.md, "Messages").
using System;
using System.Collections.Generic;

namespace VasaBridge.Core
{
    public abstract class Message
    {
        public MessageKind Kind { get; internal set; }
        public string Stream { get; internal set; }
        /// <summary>Sequence number per (kind, stream); a gap means messages were dropped.</summary>
        public ulong Seq { get; internal set; }
        /// <summary>Media time in nanoseconds: ties motion, frames and audio together.</summary>
        public long Pts { get; internal set; }
        /// <summary>The publisher's wall clock (Unix ns) when sending.</summary>
        public long Sent { get; internal set; }
        /// <summary>The whole header, unknown keys included.</summary>
        public Dictionary<string, object> Header { get; internal set; }
        public byte[] Payload { get; internal set; }
    }

    public sealed class MotionMessage : Message
    {
        public string[] Names { get; internal set; }
        /// <summary>One value per name, in the order of Names.</summary>
        public float[] Values { get; internal set; }
        /// <summary>pitch, yaw, roll in degrees (protocol frame; see HeadPose for Unity's).</summary>
        public Vec3 HeadRotation { get; internal set; }
        /// <summary>x, y, z in metres from the rest pose (protocol frame).</summary>
        public Vec3 HeadTranslation { get; internal set; }
        public string Emotion { get; internal set; }
        public bool? Speaking { get; internal set; }

        /// <summary>Fill a frame by ARKit name; names this build does not know are skipped and
        /// shapes not sent are 0.
        /// Values are checked as Python's MotionFrame does (finite, shapes in [0, 1], rotation within
        /// +-180 degrees, translation within +-10 m): a ProtocolException otherwise.</summary>
        public void CopyTo(MotionFrame frame)
        {
            Array.Clear(frame.Blendshapes, 0, frame.Blendshapes.Length);
            for (int i = 0; i < Names.Length; i++)
            {
                int k = ArkitNames.IndexOf(Names[i]);
                if (k < 0) continue;  // a name from a newer minor revision
                float v = Values[i];
                if (!(v >= 0f && v <= 1f))  // also refuses NaN
                    throw new ProtocolException("motion message seq " + Seq + ": blendshape " + Names[i]
                                                + " is " + v + ": expected a value in [0, 1]");
                frame.Blendshapes[k] = v;
            }
            CheckRange("head_rotation", HeadRotation, MotionFrame.MaxRotationDegrees, "degrees");
            CheckRange("head_translation", HeadTranslation, MotionFrame.MaxTranslationMetres, "metres");
            frame.HeadRotation = HeadRotation;
            frame.HeadTranslation = HeadTranslation;
            frame.Pts = Pts;
        }

        void CheckRange(string field, Vec3 v, double limit, string unit)
        {
            for (int i = 0; i < 3; i++)
            {
                double x = v[i];
                if (!(x >= -limit && x <= limit))
                    throw new ProtocolException("motion message seq " + Seq + ": " + field + "[" + i + "] is " + x
                                                + ": expected a value in [-" + limit + ", " + limit + "] " + unit);
            }
        }

        public MotionFrame ToMotionFrame()
        {
            var f = new MotionFrame();
            CopyTo(f);
            return f;
        }

        /// <summary>The value sent for one name, or null when the message does not carry it.</summary>
        public float? Get(string name)
        {
            int i = Array.IndexOf(Names, name);
            return i < 0 ? (float?)null : Values[i];
        }
    }

    public sealed class FrameMessage : Message
    {
        public int Width { get; internal set; }
        public int Height { get; internal set; }
        /// <summary>Bytes per row, at least 4 * Width; rows run top to bottom.</summary>
        public int Stride { get; internal set; }
        public PixelFormat Format { get; internal set; }
        public AlphaMode Alpha { get; internal set; }

        /// <summary>The W*H*4 pixel bytes without row padding, top row first (a copy).</summary>
        public byte[] PackedPixels()
        {
            var dst = new byte[Width * Height * 4];
            PixelCopy.CopyRows(Payload, Stride, Width, Height, dst, false, AlphaConversion.None);
            return dst;
        }
    }

    public sealed class AudioMessage : Message
    {
        public int Rate { get; internal set; }
        public int Channels { get; internal set; }
        public SampleFormat Format { get; internal set; }
        /// <summary>Samples per channel.</summary>
        public int Samples { get; internal set; }

        /// <summary>Interleaved samples as floats in [-1, 1] (s16 / 32768), written from dst[offset].</summary>
        public void ReadFloats(float[] dst, int offset = 0)
        {
            int n = Samples * Channels;
            if (dst.Length - offset < n)
                throw new ArgumentException("buffer holds " + (dst.Length - offset) + " floats: expected at least " + n);
            var p = Payload;
            if (Format == SampleFormat.S16)
            {
                for (int i = 0; i < n; i++)
                    dst[offset + i] = (short)(p[2 * i] | (p[2 * i + 1] << 8)) / 32768f;
            }
            else
            {
                if (BitConverter.IsLittleEndian) Buffer.BlockCopy(p, 0, dst, offset * 4, n * 4);
                else
                    for (int i = 0; i < n; i++)
                    {
                        var b = new[] { p[4 * i + 3], p[4 * i + 2], p[4 * i + 1], p[4 * i] };
                        dst[offset + i] = BitConverter.ToSingle(b, 0);
                    }
            }
        }

        /// <summary>Interleaved raw int16 values of an s16 message.</summary>
        public short[] ReadInt16()
        {
            if (Format != SampleFormat.S16)
                throw new InvalidOperationException("audio format is f32: expected s16 for ReadInt16");
            var r = new short[Samples * Channels];
            for (int i = 0; i < r.Length; i++) r[i] = (short)(Payload[2 * i] | (Payload[2 * i + 1] << 8));
            return r;
        }

        public double DurationSeconds { get { return (double)Samples / Rate; } }
    }

    public sealed class EventMessage : Message
    {
        public string Name { get; internal set; }
        public string Text { get; internal set; }  // the header's "message"
        public Dictionary<string, object> Data { get; internal set; }
    }

    public sealed class HelloMessage : Message
    {
        public string[] Streams { get; internal set; }
        public string[] Capabilities { get; internal set; }
        public string Publisher { get; internal set; }
        public double? Fps { get; internal set; }
        public string Control { get; internal set; }
    }
}
