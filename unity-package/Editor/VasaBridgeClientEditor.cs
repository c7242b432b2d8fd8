using System;
using System.Collections.Generic;
using UnityEditor;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge.Editor
{
    /// <summary>The client's inspector: settings, then in play mode the live state (connection,
    /// counters, latency, head pose and the strongest blendshapes) so a setup problem shows at a glance.</summary>
    [CustomEditor(typeof(VasaBridgeClient))]
    public sealed class VasaBridgeClientEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint() { return Application.isPlaying; }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var c = (VasaBridgeClient)target;
            if (!Application.isPlaying)
            {
                EditorGUILayout.HelpBox("Live values appear here in play mode. Start the runtime first, e.g.\n"
                                        + "vasa-bridge replay TRACK --pub " + c.Settings.dataEndpoint, MessageType.Info);
                return;
            }
            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Live", EditorStyles.boldLabel);
            EditorGUILayout.LabelField("Status", c.Status ?? "-");
            EditorGUILayout.LabelField("Stream", c.Stream);
            EditorGUILayout.LabelField("Messages", c.Received + " received, " + c.ProtocolErrors + " refused, "
                                                   + c.QueueDrops + " dropped (queue), " + c.Gaps + " lost (seq gaps)");
            EditorGUILayout.LabelField("Timing", string.Format("latency {0:F1} ms, playout pts {1:F3} s, {2}", c.LatencyMs,
                                                              c.PlayoutPts / 1e9, c.FollowsAudio ? "following audio" : "local clock"));
            EditorGUILayout.LabelField("Recovery", c.Reconnects + " reconnects, " + c.Restarts + " restarts, " + c.Resyncs
                                                   + " resyncs, " + c.LateFrames + " late");
            if (c.LastHello != null)
                EditorGUILayout.LabelField("Publisher", c.LastHello.Publisher + " [" + string.Join(", ", c.LastHello.Streams) + "]");
            if (c.LastEvent != null) EditorGUILayout.LabelField("Last event", c.LastEvent.Name + (c.LastEvent.Text != null ? ": " + c.LastEvent.Text : ""));
            if (!string.IsNullOrEmpty(c.LastError)) EditorGUILayout.HelpBox(c.LastError, MessageType.Warning);
            if (!c.HasMotion) return;

            var m = c.CurrentMotion;
            EditorGUILayout.LabelField("Head (deg)", string.Format("pitch {0:F1}  yaw {1:F1}  roll {2:F1}", m.HeadRotation.X, m.HeadRotation.Y, m.HeadRotation.Z));
            EditorGUILayout.LabelField("Head (cm)", string.Format("x {0:F1}  y {1:F1}  z {2:F1}", m.HeadTranslation.X * 100, m.HeadTranslation.Y * 100, m.HeadTranslation.Z * 100));
            var order = new List<int>();
            for (int i = 0; i < ArkitNames.Count; i++) order.Add(i);
            order.Sort((a, b) => m.Blendshapes[b].CompareTo(m.Blendshapes[a]));
            for (int i = 0; i < 10; i++)
            {
                int k = order[i];
                var rect = GUILayoutUtility.GetRect(18, 18, GUILayout.ExpandWidth(true));
                EditorGUI.ProgressBar(rect, m.Blendshapes[k], ArkitNames.Get(k) + "  " + m.Blendshapes[k].ToString("F2"));
            }
        }

        [MenuItem("GameObject/vasa_bridge/Client", false, 10)]
        static void CreateClient(MenuCommand command)
        {
            var go = new GameObject("vasa_bridge Client");
            go.AddComponent<VasaBridgeClient>();
            GameObjectUtility.SetParentAndAlign(go, command.context as GameObject);
            Undo.RegisterCreatedObjectUndo(go, "Create vasa_bridge Client");
            Selection.activeObject = go;
        }
    }

    [CustomEditor(typeof(BlendshapeDriver))]
    public sealed class BlendshapeDriverEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var d = (BlendshapeDriver)target;
            EditorGUILayout.Space();
            if (GUILayout.Button("Show matches")) Report(d);
            if (GUILayout.Button("Create mapping asset from these meshes")) CreateMapping(d);
        }

        static List<string> MeshNames(BlendshapeDriver d)
        {
            var names = new List<string>();
            var renderers = d.renderers != null && d.renderers.Length > 0 ? d.renderers : d.GetComponentsInChildren<SkinnedMeshRenderer>(true);
            foreach (var r in renderers)
                if (r != null && r.sharedMesh != null)
                    for (int i = 0; i < r.sharedMesh.blendShapeCount; i++) names.Add(r.sharedMesh.GetBlendShapeName(i));
            return names;
        }

        static void Report(BlendshapeDriver d)
        {
            var names = MeshNames(d);
            int[] match = NameMapping.Match(names, d.mapping != null ? d.mapping.Overrides() : null);
            var missing = new List<string>();
            int n = 0;
            for (int k = 0; k < match.Length; k++)
            {
                if (match[k] >= 0) n++;
                else missing.Add(ArkitNames.Get(k));
            }
            Debug.Log("[vasa_bridge] " + n + " of 52 ARKit names matched on '" + d.name + "'"
                      + (missing.Count > 0 ? "; unmatched: " + string.Join(", ", missing.ToArray()) : ""), d);
        }

        static void CreateMapping(BlendshapeDriver d)
        {
            var names = MeshNames(d);
            int[] match = NameMapping.Match(names);
            var asset = ScriptableObject.CreateInstance<BlendshapeMapping>();
            for (int k = 0; k < match.Length; k++)
                asset.entries.Add(new BlendshapeMapping.Entry { arkit = ArkitNames.Get(k), mesh = match[k] >= 0 ? names[match[k]] : "", scale = 1f });
            string path = EditorUtility.SaveFilePanelInProject("Save blendshape mapping", d.name + " Mapping", "asset",
                                                               "Where to save the mapping (unmatched names are left empty to fill in)");
            if (string.IsNullOrEmpty(path)) return;
            AssetDatabase.CreateAsset(asset, path);
            AssetDatabase.SaveAssets();
            d.mapping = asset;
            EditorUtility.SetDirty(d);
        }
    }

    [CustomEditor(typeof(BlendshapeMapping))]
    public sealed class BlendshapeMappingEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            foreach (var p in ((BlendshapeMapping)target).Problems()) EditorGUILayout.HelpBox(p, MessageType.Error);
            DrawDefaultInspector();
        }
    }
}
