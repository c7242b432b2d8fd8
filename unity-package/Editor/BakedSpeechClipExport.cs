using System.Collections.Generic;
using System.IO;
using UnityEditor;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge.Editor
{
    /// <summary>Window ▸ vasa_bridge ▸ Export Animation Clips: writes an AnimationClip (.anim) beside each
    /// selected BakedSpeech, for Timeline and Animator — blendshape curves named as the face mesh names
    /// them (the BlendshapeDriver's matching, with an optional mapping asset) and the head bone's
    /// rotation, on paths relative to the avatar's Animator. The YAML is written by Core's AnimClipWriter.</summary>
    public sealed class BakedSpeechClipExport : EditorWindow
    {
        public Transform avatarRoot;
        public SkinnedMeshRenderer face;
        public BlendshapeMapping mapping;
        public Transform head;
        public Transform neck;
        public float neckShare = 0.3f;
        public float keyTolerance = 0.1f;
        public float rotationScale = 1f;
        string report = "";

        [MenuItem("Window/vasa_bridge/Export Animation Clips", false, 2000)]
        static void Open() { GetWindow<BakedSpeechClipExport>("Export Clips").Show(); }

        [MenuItem("Assets/vasa_bridge/Export Animation Clips...", false, 2000)]
        static void OpenFromAssets() { Open(); }

        void OnGUI()
        {
            EditorGUILayout.HelpBox("Select BakedSpeech assets (.vasatrack) in the Project window, set the avatar, then export. "
                                    + "Clips are written beside the assets.", MessageType.Info);
            avatarRoot = (Transform)EditorGUILayout.ObjectField("Avatar root (Animator)", avatarRoot, typeof(Transform), true);
            face = (SkinnedMeshRenderer)EditorGUILayout.ObjectField("Face mesh", face, typeof(SkinnedMeshRenderer), true);
            mapping = (BlendshapeMapping)EditorGUILayout.ObjectField("Mapping (optional)", mapping, typeof(BlendshapeMapping), false);
            head = (Transform)EditorGUILayout.ObjectField("Head bone (optional)", head, typeof(Transform), true);
            neck = (Transform)EditorGUILayout.ObjectField("Neck bone (optional)", neck, typeof(Transform), true);
            neckShare = EditorGUILayout.FloatField("Neck share (0-1)", neckShare);
            keyTolerance = EditorGUILayout.FloatField("Key tolerance (weight)", keyTolerance);
            rotationScale = EditorGUILayout.FloatField("Head rotation scale", rotationScale);
            var lines = Selected();
            GUI.enabled = lines.Count > 0 && avatarRoot != null && face != null;
            if (GUILayout.Button("Export " + lines.Count + " selected line(s)")) report = Export(lines);
            GUI.enabled = true;
            if (report.Length > 0) EditorGUILayout.HelpBox(report, MessageType.None);
        }

        static List<BakedSpeech> Selected()
        {
            var list = new List<BakedSpeech>();
            foreach (var o in Selection.objects)
            {
                var s = o as BakedSpeech;
                if (s != null) list.Add(s);
            }
            return list;
        }

        AnimClipOptions Options()
        {
            var o = new AnimClipOptions
            {
                RendererPath = AnimationUtility.CalculateTransformPath(face.transform, avatarRoot),
                KeyTolerance = Mathf.Max(0f, keyTolerance),
                RotationScale = rotationScale,
            };
            var names = new List<string>();
            var mesh = face.sharedMesh;
            if (mesh != null) for (int i = 0; i < mesh.blendShapeCount; i++) names.Add(mesh.GetBlendShapeName(i));
            o.BlendshapeNames = AnimClipOptions.MapToMesh(names, mapping != null ? mapping.Overrides() : null);
            if (head != null)
            {
                o.HeadPath = AnimationUtility.CalculateTransformPath(head, avatarRoot);
                var parent = head.parent != null ? Quaternion.Inverse(avatarRoot.rotation) * head.parent.rotation : Quaternion.identity;
                o.HeadParentRotation = new Quat(parent.x, parent.y, parent.z, parent.w);
                var rest = head.localRotation;
                o.HeadRestRotation = new Quat(rest.x, rest.y, rest.z, rest.w);
                if (neck != null)
                {
                    // As HeadPoseDriver: the neck takes its share of the turn, the head the rest.
                    o.NeckPath = AnimationUtility.CalculateTransformPath(neck, avatarRoot);
                    o.NeckShare = Mathf.Clamp01(neckShare);
                    var np = neck.parent != null ? Quaternion.Inverse(avatarRoot.rotation) * neck.parent.rotation : Quaternion.identity;
                    o.NeckParentRotation = new Quat(np.x, np.y, np.z, np.w);
                    var nr = neck.localRotation;
                    o.NeckRestRotation = new Quat(nr.x, nr.y, nr.z, nr.w);
                }
            }
            return o;
        }

        string Export(List<BakedSpeech> lines)
        {
            var o = Options();
            if (o.BlendshapeNames.Count == 0)
                return "No blendshape of '" + face.name + "' matches an ARKit name: add a BlendshapeMapping.";
            int written = 0;
            foreach (var line in lines)
            {
                BakedTrack track;
                string error;
                if (!line.TryGetTrack(out track, out error)) { Debug.LogWarning("[vasa_bridge] skipped '" + line.name + "': " + error); continue; }
                string src = AssetDatabase.GetAssetPath(line);
                string path = Path.Combine(Path.GetDirectoryName(src), line.name + ".anim").Replace('\\', '/');
                o.ClipName = line.name;
                File.WriteAllText(path, AnimClipWriter.Write(track, o));
                AssetDatabase.ImportAsset(path);
                written++;
            }
            return written + " clip(s) written, " + o.BlendshapeNames.Count + " blendshape curves each"
                   + (o.HeadPath != null ? " + head rotation on " + o.HeadPath : "")
                   + (o.NeckPath != null ? " and neck (" + o.NeckShare.ToString("F2") + " of the turn) on " + o.NeckPath : "") + ".";
        }
    }
}
