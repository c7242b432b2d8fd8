// Reads the baked-track JSON that `vasa-bridge bake -o line.json` (or .vasatrack) writes
// (vasa_bridge/motion/io.py, docs/protocol.md "Baked tracks"):
//   {"format": "vasa-motion", "version": 1, "fps": 25.0, "start": 0.0,
//    "names": ["eyeBlinkLeft", ...],
//    "frames": [{"time": 0.0, "blendshapes": [...], "head_rotation": [p, y, r], "head_translation": [x, y, z]}, ...]}
// Names travel with values: each frame's blendshapes are read through "names" (any order, any
// subset of the 52 ARKit names; names not given stay 0), never by position. Keys this version does
// not know are skipped. Every error is a TrackFormatException naming the value and what was expected.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace VasaBridge.Core
{
    public static class BakedTrackJson
    {
        public const string Format = "vasa-motion";
        public const long Version = 1;
        /// <summary>How deep an unknown value may nest (a track itself nests 3 deep): deeper is refused
        /// rather than recursed into, so a hostile file cannot overflow the importer's stack.</summary>
        public const int MaxDepth = 64;

        public static BakedTrack Parse(string json)
        {
            if (json == null) throw new TrackFormatException("the track text is null: expected JSON");
            var r = new Reader(json);
            string format = null;
            long version = -1;
            double fps = double.NaN, start = 0;
            bool sawVersion = false;
            List<string> names = null;
            var frames = new List<RawFrame>();
            bool sawFrames = false;
            r.Expect('{', "to open the document");
            if (!r.TryEnd('}'))
            {
                do
                {
                    string key = r.ReadString("a key");
                    r.Expect(':', "after key '" + key + "'");
                    switch (key)
                    {
                        case "format": format = r.ReadStringValue("format"); break;
                        case "version": version = r.ReadInteger("version"); sawVersion = true; break;
                        case "fps": fps = r.ReadNumber("fps"); break;
                        case "start": start = r.ReadNumber("start"); break;
                        case "names": names = ReadNames(r); break;
                        case "frames": sawFrames = true; ReadFrames(r, frames); break;
                        default: r.SkipValue(); break;
                    }
                } while (r.Next('}', "the document"));
            }
            r.ExpectEnd();

            if (format != Format)
                throw new TrackFormatException("format is " + (format == null ? "missing" : "'" + format + "'") + ": expected '" + Format + "'");
            if (!sawVersion || version != Version)
                throw new TrackFormatException("version is " + (sawVersion ? version.ToString(CultureInfo.InvariantCulture) : "missing") + ": expected " + Version);
            if (double.IsNaN(fps))
                throw new TrackFormatException("fps is missing: expected frames per second, e.g. 25");
            // Before the frames' times are checked against it, so a bad fps is named as such.
            if (!(fps > 0) || fps > BakedTrack.MaxFps)
                throw new TrackFormatException("fps is " + fps.ToString("R", CultureInfo.InvariantCulture) + ": expected a number in (0, "
                                               + BakedTrack.MaxFps.ToString(CultureInfo.InvariantCulture) + "]");
            if (names == null)
                throw new TrackFormatException("names is missing: expected the ARKit names of each frame's blendshapes");
            if (!sawFrames || frames.Count == 0)
                throw new TrackFormatException("frames is missing or empty: expected a list of frames");

            int[] index = NameIndex(names);
            int n = frames.Count;
            var shapes = new float[n * ArkitNames.Count];
            var rot = new float[n * 3];
            var trans = new float[n * 3];
            for (int i = 0; i < n; i++)
            {
                RawFrame f = frames[i];
                if (f.Blendshapes == null || f.Rotation == null || f.Translation == null)
                    throw new TrackFormatException("frame " + i + " lacks " + (f.Blendshapes == null ? "blendshapes" : f.Rotation == null ? "head_rotation" : "head_translation")
                                                   + ": expected blendshapes, head_rotation and head_translation");
                if (f.Blendshapes.Count != names.Count)
                    throw new TrackFormatException("frame " + i + " has " + f.Blendshapes.Count + " blendshapes: expected " + names.Count + " (one per name)");
                if (f.Rotation.Count != 3 || f.Translation.Count != 3)
                    throw new TrackFormatException("frame " + i + " has " + (f.Rotation.Count != 3 ? f.Rotation.Count + " head_rotation" : f.Translation.Count + " head_translation")
                                                   + " values: expected 3");
                for (int c = 0; c < names.Count; c++) shapes[i * ArkitNames.Count + index[c]] = (float)f.Blendshapes[c];
                for (int c = 0; c < 3; c++) { rot[3 * i + c] = (float)f.Rotation[c]; trans[3 * i + c] = (float)f.Translation[c]; }
                if (!double.IsNaN(f.Time) && fps > 0)
                {
                    double expected = start + i / fps;
                    if (Math.Abs(f.Time - expected) > 0.25 / fps)
                        throw new TrackFormatException("frame " + i + " has time " + f.Time.ToString("R", CultureInfo.InvariantCulture) + ": expected "
                                                       + expected.ToString("R", CultureInfo.InvariantCulture) + " (start + i / fps; frames are evenly spaced)");
                }
            }
            return new BakedTrack(fps, start, shapes, rot, trans);
        }

        sealed class RawFrame
        {
            public double Time = double.NaN;
            public List<double> Blendshapes, Rotation, Translation;
        }

        static List<string> ReadNames(Reader r)
        {
            var names = new List<string>();
            r.Expect('[', "to open names");
            if (r.TryEnd(']')) return names;
            do names.Add(r.ReadStringValue("names[" + names.Count + "]")); while (r.Next(']', "names"));
            return names;
        }

        static int[] NameIndex(List<string> names)
        {
            if (names.Count == 0 || names.Count > ArkitNames.Count)
                throw new TrackFormatException("names has " + names.Count + " entries: expected 1 to " + ArkitNames.Count + " ARKit names");
            var index = new int[names.Count];
            var seen = new HashSet<int>();
            for (int c = 0; c < names.Count; c++)
            {
                int k = ArkitNames.IndexOf(names[c]);
                if (k < 0)
                    throw new TrackFormatException("names[" + c + "] is '" + names[c] + "': expected an ARKit name such as 'jawOpen'");
                if (!seen.Add(k))
                    throw new TrackFormatException("names[" + c + "] '" + names[c] + "' appears twice: expected each name once");
                index[c] = k;
            }
            return index;
        }

        static void ReadFrames(Reader r, List<RawFrame> frames)
        {
            r.Expect('[', "to open frames");
            if (r.TryEnd(']')) return;
            do
            {
                string where = "frame " + frames.Count;
                var f = new RawFrame();
                r.Expect('{', "to open " + where);
                if (!r.TryEnd('}'))
                {
                    do
                    {
                        string key = r.ReadString("a key in " + where);
                        r.Expect(':', "after key '" + key + "' in " + where);
                        switch (key)
                        {
                            case "time": f.Time = r.ReadNumber(where + " time"); break;
                            case "blendshapes": f.Blendshapes = r.ReadNumbers(where + " blendshapes"); break;
                            case "head_rotation": f.Rotation = r.ReadNumbers(where + " head_rotation"); break;
                            case "head_translation": f.Translation = r.ReadNumbers(where + " head_translation"); break;
                            default: r.SkipValue(); break;
                        }
                    } while (r.Next('}', where));
                }
                frames.Add(f);
            } while (r.Next(']', "frames"));
        }

        /// <summary>A small pull reader over the JSON text: positions in errors are line:column.</summary>
        sealed class Reader
        {
            readonly string s;
            int i;

            public Reader(string text) { s = text; i = 0; }

            string At()
            {
                int line = 1, col = 1;
                for (int k = 0; k < i && k < s.Length; k++)
                {
                    if (s[k] == '\n') { line++; col = 1; } else col++;
                }
                return "line " + line + " column " + col;
            }

            string Found()
            {
                if (i >= s.Length) return "the end of the text";
                return "'" + s[i] + "'";
            }

            TrackFormatException Error(string expected) { return new TrackFormatException("not valid JSON at " + At() + ": found " + Found() + ", expected " + expected); }

            void Ws()
            {
                while (i < s.Length)
                {
                    char c = s[i];
                    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') i++;
                    else if (c == '\uFEFF' && i == 0) i++;  // a byte-order mark some editors add
                    else break;
                }
            }

            public void Expect(char c, string what)
            {
                Ws();
                if (i >= s.Length || s[i] != c) throw Error("'" + c + "' " + what);
                i++;
            }

            /// <summary>True (and consumed) when the container closes right away.</summary>
            public bool TryEnd(char close)
            {
                Ws();
                if (i < s.Length && s[i] == close) { i++; return true; }
                return false;
            }

            /// <summary>After a member: true on ',', false on the closing bracket.</summary>
            public bool Next(char close, string what)
            {
                Ws();
                if (i < s.Length && s[i] == ',') { i++; return true; }
                if (i < s.Length && s[i] == close) { i++; return false; }
                throw Error("',' or '" + close + "' in " + what);
            }

            public void ExpectEnd()
            {
                Ws();
                if (i != s.Length) throw Error("the end of the document");
            }

            public string ReadString(string what)
            {
                Ws();
                if (i >= s.Length || s[i] != '"') throw Error("a string (" + what + ")");
                i++;
                var sb = new StringBuilder();
                while (true)
                {
                    if (i >= s.Length) throw Error("the closing '\"' of a string");
                    char c = s[i++];
                    if (c == '"') return sb.ToString();
                    if (c != '\\') { sb.Append(c); continue; }
                    if (i >= s.Length) throw Error("an escape after '\\'");
                    char e = s[i++];
                    switch (e)
                    {
                        case 'n': sb.Append('\n'); break;
                        case 't': sb.Append('\t'); break;
                        case 'r': sb.Append('\r'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'u':
                            int code;
                            if (i + 4 > s.Length || !int.TryParse(s.Substring(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out code))
                                throw Error("four hex digits after '\\u'");
                            sb.Append((char)code);
                            i += 4;
                            break;
                        default: sb.Append(e); break;  // \" \\ \/
                    }
                }
            }

            public string ReadStringValue(string what)
            {
                Ws();
                if (i < s.Length && s[i] != '"') throw new TrackFormatException(what + " is " + Token() + ": expected a string");
                return ReadString(what);
            }

            string Token()
            {
                int start = i;
                while (i < s.Length && ",}] \n\r\t".IndexOf(s[i]) < 0) i++;
                return i > start ? s.Substring(start, i - start) : Found();
            }

            public double ReadNumber(string what)
            {
                Ws();
                int start = i;
                while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0) i++;
                double v;
                if (i == start)
                {
                    string t = i < s.Length && s[i] == '"' ? "'" + ReadString(what) + "'" : Token();
                    throw new TrackFormatException(what + " is " + t + ": expected a number");
                }
                if (!double.TryParse(s.Substring(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out v)
                    || double.IsInfinity(v))
                    throw new TrackFormatException(what + " is " + s.Substring(start, i - start) + ": expected a finite number");
                return v;
            }

            public long ReadInteger(string what)
            {
                double v = ReadNumber(what);
                // Beyond 2^53 a double is no exact integer, and beyond 2^63 the cast to long is undefined.
                if (v != Math.Floor(v) || Math.Abs(v) > 9007199254740992.0)
                    throw new TrackFormatException(what + " is " + v.ToString("R", CultureInfo.InvariantCulture) + ": expected an integer");
                return (long)v;
            }

            public List<double> ReadNumbers(string what)
            {
                var list = new List<double>(ArkitNames.Count);
                Ws();
                if (i >= s.Length || s[i] != '[') throw new TrackFormatException(what + " is " + Token() + ": expected a list of numbers");
                i++;
                if (TryEnd(']')) return list;
                do list.Add(ReadNumber(what + "[" + list.Count + "]")); while (Next(']', what));
                return list;
            }

            public void SkipValue(int depth = 1)
            {
                Ws();
                if (i >= s.Length) throw Error("a value");
                char c = s[i];
                if (c == '"') { ReadString("a value"); return; }
                if ((c == '{' || c == '[') && depth > MaxDepth)
                    throw new TrackFormatException("a value nests deeper than " + MaxDepth + " levels at " + At()
                                                   + ": expected at most " + MaxDepth + " (a baked track nests 3)");
                if (c == '{')
                {
                    i++;
                    if (TryEnd('}')) return;
                    do { ReadString("a key"); Expect(':', "after a key"); SkipValue(depth + 1); } while (Next('}', "an object"));
                    return;
                }
                if (c == '[')
                {
                    i++;
                    if (TryEnd(']')) return;
                    do SkipValue(depth + 1); while (Next(']', "a list"));
                    return;
                }
                foreach (var word in new[] { "true", "false", "null" })
                    if (string.CompareOrdinal(s, i, word, 0, word.Length) == 0) { i += word.Length; return; }
                ReadNumber("a value");
            }
        }
    }
}
