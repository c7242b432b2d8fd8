// Shared helpers for the Core tests: locating the repo's golden fixtures, reading their framing,
// and a small JSON reader (integers stay exact 64-bit values: expected.json holds ns timestamps).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using NUnit.Framework;

namespace VasaBridge.Tests
{
    public static class TestFiles
    {
        /// <summary>tests/fixtures/protocol: $VASA_BRIDGE_FIXTURES, else found by walking up from the
        /// working directory; tests are ignored when neither exists (inside a Unity project).</summary>
        public static string FixtureDir()
        {
            string env = Environment.GetEnvironmentVariable("VASA_BRIDGE_FIXTURES");
            if (!string.IsNullOrEmpty(env))
            {
                if (!File.Exists(Path.Combine(env, "expected.json")))
                    Assert.Fail("VASA_BRIDGE_FIXTURES is " + env + ": expected a folder with expected.json");
                return env;
            }
            for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d != null; d = d.Parent)
            {
                string p = Path.Combine(Path.Combine(Path.Combine(d.FullName, "tests"), "fixtures"), "protocol");
                if (File.Exists(Path.Combine(p, "expected.json"))) return p;
            }
            Assert.Ignore("golden fixtures not found: set VASA_BRIDGE_FIXTURES to tests/fixtures/protocol");
            return null;
        }

        /// <summary>JSON written by Tests/Mono~/make_reference.py from vasa_bridge.motion.conversions.</summary>
        public static Dictionary<string, object> Reference()
        {
            string env = Environment.GetEnvironmentVariable("VASA_BRIDGE_REFERENCE");
            if (string.IsNullOrEmpty(env)) Assert.Ignore("VASA_BRIDGE_REFERENCE is not set (the CI script makes it with Python)");
            if (!File.Exists(env)) Assert.Fail("VASA_BRIDGE_REFERENCE is " + env + ": the file does not exist");
            return (Dictionary<string, object>)Json.Parse(File.ReadAllText(env));
        }

        /// <summary>u32 LE part count, then per part a u32 LE length and the bytes.</summary>
        public static List<byte[]> ReadParts(string path)
        {
            byte[] data = File.ReadAllBytes(path);
            int pos = 0;
            var parts = ReadParts(data, ref pos);
            Assert.AreEqual(data.Length, pos, "trailing bytes in " + path);
            return parts;
        }

        /// <summary>One framed message at `pos` in `data` (as above); `pos` moves past it.</summary>
        public static List<byte[]> ReadParts(byte[] data, ref int pos)
        {
            int n = BitConverter.ToInt32(data, pos);
            pos += 4;
            var parts = new List<byte[]>(n);
            for (int i = 0; i < n; i++)
            {
                int size = BitConverter.ToInt32(data, pos);
                var p = new byte[size];
                Buffer.BlockCopy(data, pos + 4, p, 0, size);
                parts.Add(p);
                pos += 4 + size;
            }
            return parts;
        }

        public static double Num(object o) { return Convert.ToDouble(o, CultureInfo.InvariantCulture); }
    }

    /// <summary>JSON -> Dictionary&lt;string, object&gt;, List&lt;object&gt;, string, long, double, bool, null.</summary>
    public static class Json
    {
        public static object Parse(string s)
        {
            int i = 0;
            object v = Value(s, ref i);
            Ws(s, ref i);
            if (i != s.Length) throw new FormatException("trailing JSON at " + i);
            return v;
        }

        static void Ws(string s, ref int i) { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }

        static object Value(string s, ref int i)
        {
            Ws(s, ref i);
            char c = s[i];
            if (c == '{')
            {
                var d = new Dictionary<string, object>();
                i++; Ws(s, ref i);
                if (s[i] == '}') { i++; return d; }
                while (true)
                {
                    Ws(s, ref i);
                    string k = Str(s, ref i);
                    Ws(s, ref i); Expect(s, ref i, ':');
                    d[k] = Value(s, ref i);
                    Ws(s, ref i);
                    if (s[i] == ',') { i++; continue; }
                    Expect(s, ref i, '}');
                    return d;
                }
            }
            if (c == '[')
            {
                var l = new List<object>();
                i++; Ws(s, ref i);
                if (s[i] == ']') { i++; return l; }
                while (true)
                {
                    l.Add(Value(s, ref i));
                    Ws(s, ref i);
                    if (s[i] == ',') { i++; continue; }
                    Expect(s, ref i, ']');
                    return l;
                }
            }
            if (c == '"') return Str(s, ref i);
            if (string.CompareOrdinal(s, i, "true", 0, 4) == 0) { i += 4; return true; }
            if (string.CompareOrdinal(s, i, "false", 0, 5) == 0) { i += 5; return false; }
            if (string.CompareOrdinal(s, i, "null", 0, 4) == 0) { i += 4; return null; }
            int start = i;
            while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0) i++;
            string num = s.Substring(start, i - start);
            if (num.IndexOfAny(new[] { '.', 'e', 'E' }) < 0) return long.Parse(num, CultureInfo.InvariantCulture);
            return double.Parse(num, CultureInfo.InvariantCulture);
        }

        static void Expect(string s, ref int i, char c)
        {
            if (s[i] != c) throw new FormatException("expected '" + c + "' at " + i);
            i++;
        }

        static string Str(string s, ref int i)
        {
            Expect(s, ref i, '"');
            var sb = new StringBuilder();
            while (s[i] != '"')
            {
                if (s[i] == '\\')
                {
                    i++;
                    char e = s[i];
                    if (e == 'u') { sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 4), 16)); i += 4; }
                    else sb.Append(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
                }
                else sb.Append(s[i]);
                i++;
            }
            i++;
            return sb.ToString();
        }
    }
}
