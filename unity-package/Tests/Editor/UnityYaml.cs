// A reader for the block-style YAML subset Unity writes in text assets (.anim, .asset): mappings,
// lists whose "- " sits at the key's indent, plain and single-quoted scalars, flow maps {x: 0}
// and empty lists []. Enough to check an exported clip's structure in tests; not a YAML parser.
using System;
using System.Collections.Generic;
using System.Globalization;
using NUnit.Framework;

namespace VasaBridge.Tests
{
    public static class UnityYaml
    {
        sealed class Line
        {
            public int Indent;
            public string Text;
            public int Number;
        }

        /// <summary>The document's mappings as Dictionary&lt;string, object&gt;, lists as List&lt;object&gt;, scalars as strings.</summary>
        public static Dictionary<string, object> Parse(string text)
        {
            var lines = new List<Line>();
            var raw = text.Split('\n');
            for (int n = 0; n < raw.Length; n++)
            {
                string l = raw[n].TrimEnd('\r');
                if (l.Trim().Length == 0 || l.StartsWith("%", StringComparison.Ordinal) || l.StartsWith("---", StringComparison.Ordinal)) continue;
                int indent = 0;
                while (indent < l.Length && l[indent] == ' ') indent++;
                lines.Add(new Line { Indent = indent, Text = l.Substring(indent), Number = n + 1 });
            }
            int i = 0;
            var root = Block(lines, ref i, 0);
            if (i != lines.Count) Assert.Fail("YAML line " + lines[i].Number + " is indented unexpectedly: '" + lines[i].Text + "'");
            return (Dictionary<string, object>)root;
        }

        static object Block(List<Line> lines, ref int i, int indent)
        {
            if (i < lines.Count && lines[i].Indent == indent && lines[i].Text.StartsWith("- ", StringComparison.Ordinal))
            {
                var list = new List<object>();
                while (i < lines.Count && lines[i].Indent == indent && lines[i].Text.StartsWith("- ", StringComparison.Ordinal))
                {
                    // "- key: value" opens a mapping whose keys sit two columns further in.
                    lines[i].Indent = indent + 2;
                    lines[i].Text = lines[i].Text.Substring(2);
                    if (lines[i].Text.IndexOf(": ", StringComparison.Ordinal) < 0 && !lines[i].Text.EndsWith(":", StringComparison.Ordinal))
                    {
                        list.Add(Scalar(lines[i].Text));
                        i++;
                    }
                    else list.Add(Block(lines, ref i, indent + 2));
                }
                return list;
            }
            var map = new Dictionary<string, object>();
            while (i < lines.Count && lines[i].Indent == indent && !lines[i].Text.StartsWith("- ", StringComparison.Ordinal))
            {
                var line = lines[i];
                int colon = line.Text.IndexOf(':');
                if (colon < 0) Assert.Fail("YAML line " + line.Number + " has no 'key:': '" + line.Text + "'");
                string key = line.Text.Substring(0, colon);
                string value = line.Text.Substring(colon + 1).Trim();
                i++;
                if (map.ContainsKey(key)) Assert.Fail("YAML line " + line.Number + " repeats key '" + key + "'");
                if (value.Length > 0) { map[key] = Scalar(value); continue; }
                if (i < lines.Count && lines[i].Indent > indent) map[key] = Block(lines, ref i, lines[i].Indent);
                else if (i < lines.Count && lines[i].Indent == indent && lines[i].Text.StartsWith("- ", StringComparison.Ordinal)) map[key] = Block(lines, ref i, indent);
                else map[key] = "";
            }
            return map;
        }

        static object Scalar(string v)
        {
            if (v == "[]") return new List<object>();
            if (v.StartsWith("{", StringComparison.Ordinal))
            {
                Assert.IsTrue(v.EndsWith("}", StringComparison.Ordinal), "flow map not closed: " + v);
                var d = new Dictionary<string, object>();
                foreach (var part in v.Substring(1, v.Length - 2).Split(','))
                {
                    int c = part.IndexOf(':');
                    d[part.Substring(0, c).Trim()] = part.Substring(c + 1).Trim();
                }
                return d;
            }
            if (v.StartsWith("'", StringComparison.Ordinal) && v.EndsWith("'", StringComparison.Ordinal) && v.Length >= 2)
                return v.Substring(1, v.Length - 2).Replace("''", "'");
            return v;
        }

        public static Dictionary<string, object> Map(object o, string what)
        {
            var d = o as Dictionary<string, object>;
            if (d == null) Assert.Fail(what + " is not a mapping: " + o);
            return d;
        }

        public static List<object> List(object o, string what)
        {
            var l = o as List<object>;
            if (l == null) Assert.Fail(what + " is not a list: " + o);
            return l;
        }

        public static double Num(object o) { return double.Parse((string)o, NumberStyles.Float, CultureInfo.InvariantCulture); }
    }
}
