using System;
using System.Collections.Generic;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>How ARKit names map onto one model's blendshapes. Names are matched automatically
    /// (ARKit, Perfect Sync PascalCase, eyeBlink_L, prefixed exports); entries here override a
    /// match or scale a shape. Unlisted names keep the automatic match with scale 1.</summary>
    [CreateAssetMenu(fileName = "BlendshapeMapping", menuName = "vasa_bridge/Blendshape Mapping")]
    public sealed class BlendshapeMapping : ScriptableObject
    {
        [Serializable]
        public struct Entry
        {
            [Tooltip("ARKit name, e.g. jawOpen.")] public string arkit;
            [Tooltip("The mesh blendshape that plays it. Empty: automatic match.")] public string mesh;
            [Tooltip("Multiplies the coefficient (rigs whose shapes are too strong or weak).")] public float scale;
        }

        public List<Entry> entries = new List<Entry>();

        public Dictionary<string, string> Overrides()
        {
            var d = new Dictionary<string, string>();
            foreach (var e in entries)
                if (!string.IsNullOrEmpty(e.arkit) && !string.IsNullOrEmpty(e.mesh)) d[e.arkit] = e.mesh;
            return d;
        }

        public Dictionary<string, float> Scales()
        {
            var d = new Dictionary<string, float>();
            foreach (var e in entries)
                if (!string.IsNullOrEmpty(e.arkit) && e.scale > 0f) d[e.arkit] = e.scale;
            return d;
        }

        /// <summary>Entries naming something that is not an ARKit name (shown by the editor).</summary>
        public List<string> Problems()
        {
            var p = new List<string>();
            foreach (var e in entries)
                if (ArkitNames.IndexOf(e.arkit) < 0) p.Add("'" + e.arkit + "' is not an ARKit name (expected e.g. jawOpen)");
            return p;
        }
    }
}
