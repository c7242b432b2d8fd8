// Reads `.vasab`, the compact binary track `vasa-bridge bake -o LINE.vasab` writes
// (vasa_bridge/motion/io.py, docs/protocol.md "Baked tracks"), little-endian:
//   "VASB", u16 version (1), u16 name count N, u32 frame count T, f64 fps, f64 start,
//   N names (u8 length + ASCII), then T frames of N u16 blendshapes (value * 65535) and
//   6 f32 (pitch, yaw, roll in degrees; x, y, z in metres). Nothing follows.
// Names travel with values here too: blendshapes are placed by name, any order, any subset.
using System;
using System.Collections.Generic;
using System.Text;

namespace VasaBridge.Core
{
    public static class BakedTrackBinary
    {
        public const uint Version = 1;
        public const int HeaderSize = 28;
        static readonly byte[] Magic = { (byte)'V', (byte)'A', (byte)'S', (byte)'B' };

        public static BakedTrack Parse(byte[] data)
        {
            if (data == null) throw new TrackFormatException("the track bytes are null: expected a .vasab file");
            if (data.Length < HeaderSize)
                throw new TrackFormatException(data.Length + " bytes: expected at least a " + HeaderSize + "-byte header");
            for (int i = 0; i < 4; i++)
                if (data[i] != Magic[i])
                    throw new TrackFormatException("magic is '" + Printable(data, 0, 4) + "': expected 'VASB' (a .vasab track)");
            uint version = U16(data, 4);
            if (version != Version) throw new TrackFormatException("version is " + version + ": expected " + Version);
            int n = (int)U16(data, 6);
            uint count = BitConverter.ToUInt32(LittleEndian(data, 8, 4), 0);
            double fps = BitConverter.ToDouble(LittleEndian(data, 12, 8), 0);
            double start = BitConverter.ToDouble(LittleEndian(data, 20, 8), 0);
            if (n < 1 || n > ArkitNames.Count || count < 1)
                throw new TrackFormatException(n + " names and " + count + " frames: expected 1 to " + ArkitNames.Count
                                               + " names and at least one frame");
            int pos = HeaderSize;
            var index = new int[n];
            var seen = new HashSet<int>();
            for (int c = 0; c < n; c++)
            {
                int size = pos < data.Length ? data[pos] : 0;
                if (size == 0 || pos + 1 + size > data.Length)
                    throw new TrackFormatException("name " + c + " is cut short at byte " + pos + ": expected a length and that many ASCII bytes");
                string name = Encoding.ASCII.GetString(data, pos + 1, size);
                int k = ArkitNames.IndexOf(name);
                if (k < 0) throw new TrackFormatException("name " + c + " is '" + name + "': expected an ARKit name such as 'jawOpen'");
                if (!seen.Add(k)) throw new TrackFormatException("name " + c + " '" + name + "' appears twice: expected each name once");
                index[c] = k;
                pos += 1 + size;
            }
            int frameSize = 2 * n + 24;
            long expected = (long)count * frameSize;
            if (data.Length - pos != expected)
                throw new TrackFormatException((data.Length - pos) + " bytes of frames: expected " + count + " x " + frameSize);
            int frames = (int)count;
            var shapes = new float[frames * ArkitNames.Count];
            var rot = new float[frames * 3];
            var trans = new float[frames * 3];
            for (int f = 0; f < frames; f++)
            {
                for (int c = 0; c < n; c++) shapes[f * ArkitNames.Count + index[c]] = U16(data, pos + 2 * c) / 65535f;
                int p = pos + 2 * n;
                for (int c = 0; c < 3; c++)
                {
                    rot[3 * f + c] = F32(data, p + 4 * c);
                    trans[3 * f + c] = F32(data, p + 12 + 4 * c);
                }
                pos += frameSize;
            }
            return new BakedTrack(fps, start, shapes, rot, trans);
        }

        static uint U16(byte[] d, int at) { return (uint)(d[at] | (d[at + 1] << 8)); }

        static float F32(byte[] d, int at) { return BitConverter.ToSingle(LittleEndian(d, at, 4), 0); }

        // BitConverter reads in the machine's order; the file is little-endian.
        static byte[] LittleEndian(byte[] d, int at, int size)
        {
            var b = new byte[size];
            Buffer.BlockCopy(d, at, b, 0, size);
            if (!BitConverter.IsLittleEndian) Array.Reverse(b);
            return b;
        }

        static string Printable(byte[] d, int at, int size)
        {
            var sb = new StringBuilder();
            for (int i = at; i < at + size && i < d.Length; i++) sb.Append(d[i] >= 32 && d[i] < 127 ? (char)d[i] : '?');
            return sb.ToString();
        }
    }
}
