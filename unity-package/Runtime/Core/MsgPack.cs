// A compact msgpack reader and writer for the vasa_bridge wire schema (docs/protocol.md).
// Hand-written instead of MessagePack-CSharp so that IL2CPP and WebGL builds need no
// ahead-of-time generated formatters. Values map to plain .NET types:
//   nil -> null, bool -> bool, int -> long (ulong above long.MaxValue), float32/64 -> double,
//   str -> string, bin -> byte[], array -> List<object>, map -> Dictionary<string, object>,
//   ext -> MsgPackExt.
// The reader never trusts its input: bounds, lengths, depth and UTF-8 are checked and every
// defect is a ProtocolException. It refuses exactly what the Python reference refuses
// (msgpack.unpackb with raw=False, strict_map_key=True and its limits; the mutated corpus in
// tests/fixtures/protocol/mutated checks this): strict UTF-8 in every str, str or bin map keys
// (a bin key is read and left out: no field is looked up by one), ext types 0..127 or a valid
// timestamp (-1), at most MaxDepth nested containers.
using System;
using System.Collections.Generic;
using System.Text;

namespace VasaBridge.Core
{
    /// <summary>An msgpack extension value (type code and raw bytes); our schema never sends one.</summary>
    public sealed class MsgPackExt
    {
        public readonly sbyte Type;
        public readonly byte[] Data;
        public MsgPackExt(sbyte type, byte[] data) { Type = type; Data = data; }
    }

    public sealed class MsgPackLimits
    {
        public int MaxStringBytes = 64 * 1024;
        public int MaxBinBytes = 64 * 1024;
        public int MaxArrayLength = 4096;
        public int MaxMapLength = 256;
        public int MaxDepth = 32;  // nested containers, the outermost included
        public static readonly MsgPackLimits Header = new MsgPackLimits();
    }

    public static class MsgPackReader
    {
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>Parse exactly one value filling the whole buffer (trailing bytes are an error).</summary>
        public static object Read(byte[] data, MsgPackLimits limits = null)
        {
            if (data == null) throw new ProtocolException("msgpack data is null: expected bytes");
            return Read(data, 0, data.Length, limits);
        }

        public static object Read(byte[] data, int offset, int count, MsgPackLimits limits = null)
        {
            var cursor = new Cursor(data, offset, count, limits ?? MsgPackLimits.Header);
            object value = cursor.ReadValue(0);
            if (cursor.Pos != cursor.End)
                throw new ProtocolException("msgpack value is followed by " + (cursor.End - cursor.Pos)
                                            + " extra bytes: expected exactly one value");
            return value;
        }

        sealed class Cursor
        {
            readonly byte[] buf;
            readonly MsgPackLimits limits;
            public int Pos;
            public readonly int End;

            public Cursor(byte[] buf, int offset, int count, MsgPackLimits limits)
            {
                if (offset < 0 || count < 0 || offset + count > buf.Length)
                    throw new ArgumentOutOfRangeException("count");
                this.buf = buf; this.limits = limits; Pos = offset; End = offset + count;
            }

            void Need(int n)
            {
                if (n < 0 || End - Pos < n)
                    throw new ProtocolException("msgpack data ends early at byte " + Pos + ": expected "
                                                + n + " more bytes");
            }

            byte U8() { Need(1); return buf[Pos++]; }

            ulong BigEndian(int n)
            {
                Need(n);
                ulong v = 0;
                for (int i = 0; i < n; i++) v = (v << 8) | buf[Pos + i];
                Pos += n;
                return v;
            }

            /// <summary>A value at `depth` containers deep (0: the outermost value).</summary>
            public object ReadValue(int depth)
            {
                byte b = U8();
                if (b <= 0x7f) return (long)b;                       // positive fixint
                if (b >= 0xe0) return (long)(sbyte)b;                // negative fixint
                if ((b & 0xf0) == 0x80) return ReadMap(b & 0x0f, depth);
                if ((b & 0xf0) == 0x90) return ReadArray(b & 0x0f, depth);
                if ((b & 0xe0) == 0xa0) return ReadString(b & 0x1f);
                switch (b)
                {
                    case 0xc0: return null;
                    case 0xc2: return false;
                    case 0xc3: return true;
                    case 0xc4: return ReadBin((int)BigEndian(1));
                    case 0xc5: return ReadBin((int)BigEndian(2));
                    case 0xc6: return ReadBin(Length32());
                    case 0xc7: return ReadExt((int)BigEndian(1));
                    case 0xc8: return ReadExt((int)BigEndian(2));
                    case 0xc9: return ReadExt(Length32());
                    case 0xca:
                    {
                        uint bits = (uint)BigEndian(4);
                        return (double)BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);
                    }
                    case 0xcb: return BitConverter.Int64BitsToDouble((long)BigEndian(8));
                    case 0xcc: return (long)BigEndian(1);
                    case 0xcd: return (long)BigEndian(2);
                    case 0xce: return (long)BigEndian(4);
                    case 0xcf:
                    {
                        ulong v = BigEndian(8);
                        if (v <= long.MaxValue) return (long)v;
                        return v;
                    }
                    case 0xd0: return (long)(sbyte)BigEndian(1);
                    case 0xd1: return (long)(short)BigEndian(2);
                    case 0xd2: return (long)(int)BigEndian(4);
                    case 0xd3: return (long)BigEndian(8);
                    case 0xd4: return ReadExt(1);
                    case 0xd5: return ReadExt(2);
                    case 0xd6: return ReadExt(4);
                    case 0xd7: return ReadExt(8);
                    case 0xd8: return ReadExt(16);
                    case 0xd9: return ReadString((int)BigEndian(1));
                    case 0xda: return ReadString((int)BigEndian(2));
                    case 0xdb: return ReadString(Length32());
                    case 0xdc: return ReadArray((int)BigEndian(2), depth);
                    case 0xdd: return ReadArray(Length32(), depth);
                    case 0xde: return ReadMap((int)BigEndian(2), depth);
                    case 0xdf: return ReadMap(Length32(), depth);
                    default:
                        throw new ProtocolException("msgpack byte 0x" + b.ToString("x2") + " at " + (Pos - 1)
                                                    + " is not a valid type code");
                }
            }

            int Length32()
            {
                ulong n = BigEndian(4);
                return n > int.MaxValue ? int.MaxValue : (int)n;  // rejected by the limits below
            }

            string ReadString(int n)
            {
                if (n > limits.MaxStringBytes)
                    throw new ProtocolException("msgpack string of " + n + " bytes: the limit is "
                                                + limits.MaxStringBytes);
                Need(n);
                string s;
                try { s = StrictUtf8.GetString(buf, Pos, n); }
                catch (ArgumentException)
                {
                    throw new ProtocolException("msgpack string at byte " + Pos + " is not valid UTF-8");
                }
                Pos += n;
                return s;
            }

            byte[] ReadBin(int n)
            {
                if (n > limits.MaxBinBytes)
                    throw new ProtocolException("msgpack bin of " + n + " bytes: the limit is "
                                                + limits.MaxBinBytes);
                Need(n);
                var b = new byte[n];
                Buffer.BlockCopy(buf, Pos, b, 0, n);
                Pos += n;
                return b;
            }

            MsgPackExt ReadExt(int n)
            {
                int at = Pos - 1;
                sbyte type = (sbyte)U8();
                var ext = new MsgPackExt(type, ReadBin(n));
                if (type < 0 && (type != -1 || !TimestampValid(ext.Data)))
                    throw new ProtocolException("msgpack ext of type " + type + " (" + n + " bytes) at " + at
                                                + ": expected types 0..127 or a valid timestamp (-1)");
                return ext;
            }

            /// <summary>msgpack's timestamp: 32-bit s; 30-bit ns + 34-bit s; 32-bit ns + 64-bit s.</summary>
            static bool TimestampValid(byte[] d)
            {
                if (d.Length == 4) return true;
                uint head = d.Length >= 4 ? (uint)(d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]) : 0;
                if (d.Length == 8) return (head >> 2) <= 999999999u;
                if (d.Length == 12) return head <= 999999999u;
                return false;
            }

            void CheckDepth(int depth)
            {
                if (depth + 1 > limits.MaxDepth)
                    throw new ProtocolException("msgpack nesting is deeper than " + limits.MaxDepth
                                                + " levels: expected at most " + limits.MaxDepth
                                                + " nested containers");
            }

            List<object> ReadArray(int n, int depth)
            {
                CheckDepth(depth);
                if (n > limits.MaxArrayLength)
                    throw new ProtocolException("msgpack array of " + n + " items: the limit is "
                                                + limits.MaxArrayLength);
                Need(n);  // every item takes at least one byte: refuse impossible lengths early
                var list = new List<object>(n);
                for (int i = 0; i < n; i++) list.Add(ReadValue(depth + 1));
                return list;
            }

            Dictionary<string, object> ReadMap(int n, int depth)
            {
                if (n > limits.MaxMapLength)
                    throw new ProtocolException("msgpack map of " + n + " entries: the limit is "
                                                + limits.MaxMapLength);
                Need(2 * n);
                CheckDepth(depth);
                var map = new Dictionary<string, object>(n, StringComparer.Ordinal);
                for (int i = 0; i < n; i++)
                {
                    object key = ReadValue(depth + 1);
                    var s = key as string;
                    if (s == null && !(key is byte[]))
                        throw new ProtocolException("msgpack map key " + Describe(key)
                                                    + " is not a string: expected str (or bin) keys");
                    object value = ReadValue(depth + 1);
                    if (s != null) map[s] = value;  // a repeated key keeps the last value, as msgpack-python does
                }
                return map;
            }
        }

        /// <summary>A short description of a decoded value for error messages: value and type.</summary>
        public static string Describe(object value)
        {
            if (value == null) return "nil";
            if (value is string) return "'" + Truncate((string)value, 40) + "' (str)";
            if (value is bool) return ((bool)value ? "true" : "false") + " (bool)";
            if (value is long || value is ulong) return value + " (int)";
            if (value is double) return ((double)value).ToString("R", System.Globalization.CultureInfo.InvariantCulture) + " (float)";
            if (value is byte[]) return ((byte[])value).Length + " bytes (bin)";
            if (value is List<object>) return "an array of " + ((List<object>)value).Count;
            if (value is Dictionary<string, object>) return "a map of " + ((Dictionary<string, object>)value).Count;
            return value.GetType().Name;
        }

        static string Truncate(string s, int n) { return s.Length <= n ? s : s.Substring(0, n) + "..."; }
    }

    /// <summary>Writes msgpack the way msgpack-python does with use_bin_type=True (smallest encodings).</summary>
    public sealed class MsgPackWriter
    {
        byte[] buf = new byte[256];
        int len;

        public int Length { get { return len; } }

        public byte[] ToArray()
        {
            var r = new byte[len];
            Buffer.BlockCopy(buf, 0, r, 0, len);
            return r;
        }

        void Grow(int n)
        {
            if (len + n <= buf.Length) return;
            int size = buf.Length;
            while (size < len + n) size *= 2;
            Array.Resize(ref buf, size);
        }

        void Byte(byte b) { Grow(1); buf[len++] = b; }

        void BigEndian(ulong v, int n)
        {
            Grow(n);
            for (int i = n - 1; i >= 0; i--) { buf[len + i] = (byte)v; v >>= 8; }
            len += n;
        }

        public MsgPackWriter WriteNil() { Byte(0xc0); return this; }
        public MsgPackWriter Write(bool v) { Byte(v ? (byte)0xc3 : (byte)0xc2); return this; }

        public MsgPackWriter Write(long v)
        {
            if (v >= 0) return Write((ulong)v);
            if (v >= -32) Byte((byte)(sbyte)v);
            else if (v >= sbyte.MinValue) { Byte(0xd0); BigEndian((ulong)v, 1); }
            else if (v >= short.MinValue) { Byte(0xd1); BigEndian((ulong)v, 2); }
            else if (v >= int.MinValue) { Byte(0xd2); BigEndian((ulong)v, 4); }
            else { Byte(0xd3); BigEndian((ulong)v, 8); }
            return this;
        }

        public MsgPackWriter Write(ulong v)
        {
            if (v <= 0x7f) Byte((byte)v);
            else if (v <= byte.MaxValue) { Byte(0xcc); BigEndian(v, 1); }
            else if (v <= ushort.MaxValue) { Byte(0xcd); BigEndian(v, 2); }
            else if (v <= uint.MaxValue) { Byte(0xce); BigEndian(v, 4); }
            else { Byte(0xcf); BigEndian(v, 8); }
            return this;
        }

        public MsgPackWriter Write(double v)
        {
            Byte(0xcb);
            BigEndian((ulong)BitConverter.DoubleToInt64Bits(v), 8);
            return this;
        }

        public MsgPackWriter Write(string s)
        {
            if (s == null) return WriteNil();
            int n = Encoding.UTF8.GetByteCount(s);
            if (n <= 31) Byte((byte)(0xa0 | n));
            else if (n <= byte.MaxValue) { Byte(0xd9); BigEndian((ulong)n, 1); }
            else if (n <= ushort.MaxValue) { Byte(0xda); BigEndian((ulong)n, 2); }
            else { Byte(0xdb); BigEndian((ulong)n, 4); }
            Grow(n);
            len += Encoding.UTF8.GetBytes(s, 0, s.Length, buf, len);
            return this;
        }

        public MsgPackWriter Write(byte[] data) { return data == null ? WriteNil() : Write(data, 0, data.Length); }

        public MsgPackWriter Write(byte[] data, int offset, int count)
        {
            if (count <= byte.MaxValue) { Byte(0xc4); BigEndian((ulong)count, 1); }
            else if (count <= ushort.MaxValue) { Byte(0xc5); BigEndian((ulong)count, 2); }
            else { Byte(0xc6); BigEndian((ulong)count, 4); }
            Grow(count);
            Buffer.BlockCopy(data, offset, buf, len, count);
            len += count;
            return this;
        }

        public MsgPackWriter WriteArrayHeader(int n)
        {
            if (n <= 15) Byte((byte)(0x90 | n));
            else if (n <= ushort.MaxValue) { Byte(0xdc); BigEndian((ulong)n, 2); }
            else { Byte(0xdd); BigEndian((ulong)n, 4); }
            return this;
        }

        public MsgPackWriter WriteMapHeader(int n)
        {
            if (n <= 15) Byte((byte)(0x80 | n));
            else if (n <= ushort.MaxValue) { Byte(0xde); BigEndian((ulong)n, 2); }
            else { Byte(0xdf); BigEndian((ulong)n, 4); }
            return this;
        }

        /// <summary>Any value of the reader's type set (plus int, float and string arrays).</summary>
        public MsgPackWriter WriteValue(object v)
        {
            if (v == null) return WriteNil();
            if (v is bool) return Write((bool)v);
            if (v is string) return Write((string)v);
            if (v is byte[]) return Write((byte[])v);
            if (v is int) return Write((long)(int)v);
            if (v is long) return Write((long)v);
            if (v is uint) return Write((ulong)(uint)v);
            if (v is ulong) return Write((ulong)v);
            if (v is float) return Write((double)(float)v);
            if (v is double) return Write((double)v);
            var map = v as IDictionary<string, object>;
            if (map != null)
            {
                WriteMapHeader(map.Count);
                foreach (var kv in map) { Write(kv.Key); WriteValue(kv.Value); }
                return this;
            }
            var list = v as System.Collections.IList;
            if (list != null)
            {
                WriteArrayHeader(list.Count);
                foreach (var item in list) WriteValue(item);
                return this;
            }
            throw new ArgumentException("cannot write a " + v.GetType().Name + " as msgpack: expected "
                                        + "null, bool, integer, float, string, byte[], list or map");
        }
    }
}
