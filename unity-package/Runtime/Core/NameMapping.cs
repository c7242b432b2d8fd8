// Mapping between ARKit names and the blendshape names a mesh actually has.
// Rigs name the same shape many ways: "jawOpen" (ARKit), "JawOpen" (Perfect Sync), "eyeBlink_L"
// (Apple raw), "blendShape1.jawOpen" (Maya/Blender FBX prefixes), "Face.M_F00_000_00_EyeBlink_L"...
// The matcher tries, in order: an explicit override, the exact name, then a normalised comparison
// (prefix before the last '.' dropped, case, '_', '-' and spaces ignored, _L/_R read as Left/Right).
using System;
using System.Collections.Generic;
using System.Text;

namespace VasaBridge.Core
{
    public struct BlendshapeBinding
    {
        public int ArkitIndex;     // index in ArkitNames
        public int MeshIndex;      // blendshape index on the mesh
        public float Scale;        // multiplies the coefficient before Unity's 0-100 scale
        public BlendshapeBinding(int arkit, int mesh, float scale) { ArkitIndex = arkit; MeshIndex = mesh; Scale = scale; }
    }

    public static class NameMapping
    {
        /// <summary>A comparison key: "blendShape1.eyeBlink_L" and "EyeBlinkLeft" both give "eyeblinkleft".</summary>
        public static string Normalize(string name)
        {
            if (string.IsNullOrEmpty(name)) return "";
            int dot = name.LastIndexOf('.');
            string s = dot >= 0 ? name.Substring(dot + 1) : name;
            if (s.EndsWith("_L", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".L", StringComparison.OrdinalIgnoreCase))
                s = s.Substring(0, s.Length - 2) + "Left";
            else if (s.EndsWith("_R", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".R", StringComparison.OrdinalIgnoreCase))
                s = s.Substring(0, s.Length - 2) + "Right";
            var sb = new StringBuilder(s.Length);
            foreach (char c in s)
                if (c != '_' && c != '-' && c != ' ') sb.Append(char.ToLowerInvariant(c));
            return sb.ToString();
        }

        /// <summary>The ARKit index a mesh blendshape name stands for, or -1.</summary>
        public static int ArkitIndexOfAlias(string meshName)
        {
            int i = ArkitNames.IndexOf(meshName);
            if (i >= 0) return i;
            string key = Normalize(meshName);
            for (int k = 0; k < ArkitNames.Count; k++)
                if (Normalize(ArkitNames.Get(k)) == key) return k;
            return -1;
        }

        /// <summary>For each ARKit name, the index of the mesh blendshape that plays it (-1 if none).
        /// overrides maps an ARKit name to a mesh name and wins over automatic matching.</summary>
        public static int[] Match(IList<string> meshNames, IDictionary<string, string> overrides = null)
        {
            var result = new int[ArkitNames.Count];
            for (int k = 0; k < result.Length; k++) result[k] = -1;
            var exact = new Dictionary<string, int>(StringComparer.Ordinal);
            var normal = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int m = 0; m < meshNames.Count; m++)
            {
                if (meshNames[m] == null) continue;
                if (!exact.ContainsKey(meshNames[m])) exact[meshNames[m]] = m;
                string key = Normalize(meshNames[m]);
                if (!normal.ContainsKey(key)) normal[key] = m;  // the first of equal keys wins
            }
            for (int k = 0; k < ArkitNames.Count; k++)
            {
                string arkit = ArkitNames.Get(k);
                string wanted;
                int m;
                if (overrides != null && overrides.TryGetValue(arkit, out wanted) && !string.IsNullOrEmpty(wanted))
                {
                    if (exact.TryGetValue(wanted, out m)) result[k] = m;
                    continue;  // an override that names no shape leaves the name unmapped, never guessed
                }
                if (exact.TryGetValue(arkit, out m) || exact.TryGetValue(ArkitNames.ToPascal(arkit), out m)
                    || exact.TryGetValue(ArkitNames.ToAppleRaw(arkit), out m) || normal.TryGetValue(Normalize(arkit), out m))
                    result[k] = m;
                else
                    result[k] = UniqueSuffixMatch(meshNames, Normalize(arkit));
            }
            return result;
        }

        // Vendor prefixes without a dot ("M_F00_000_00_EyeBlink_L"): accept a mesh name whose key
        // ends with the ARKit key, but only when exactly one does (never guess between two).
        static int UniqueSuffixMatch(IList<string> meshNames, string key)
        {
            int found = -1;
            for (int m = 0; m < meshNames.Count; m++)
            {
                if (meshNames[m] == null || !Normalize(meshNames[m]).EndsWith(key, StringComparison.Ordinal)) continue;
                if (found >= 0) return -1;
                found = m;
            }
            return found;
        }

        /// <summary>Bindings for every matched name (unmatched ones are left out).</summary>
        public static List<BlendshapeBinding> Bind(IList<string> meshNames, IDictionary<string, string> overrides = null,
                                                    IDictionary<string, float> scales = null)
        {
            int[] match = Match(meshNames, overrides);
            var list = new List<BlendshapeBinding>();
            for (int k = 0; k < match.Length; k++)
            {
                if (match[k] < 0) continue;
                float scale = 1f, s;
                if (scales != null && scales.TryGetValue(ArkitNames.Get(k), out s)) scale = s;
                list.Add(new BlendshapeBinding(k, match[k], scale));
            }
            return list;
        }

        /// <summary>Unity blendshape weights (0-100) for bound shapes: weight = 100 * clamp01(value * scale).</summary>
        public static void ApplyWeights(float[] arkit, List<BlendshapeBinding> bindings, float[] meshWeights)
        {
            foreach (var b in bindings)
            {
                float v = arkit[b.ArkitIndex] * b.Scale;
                meshWeights[b.MeshIndex] = 100f * (v < 0f ? 0f : v > 1f ? 1f : v);
            }
        }
    }
}
