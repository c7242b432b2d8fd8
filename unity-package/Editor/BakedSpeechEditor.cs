using UnityEditor;
using VasaBridge.Core;

namespace VasaBridge.Editor
{
    /// <summary>A BakedSpeech's inspector: its audio, then what the track holds (frames, rate, length)
    /// and whether the clip's length matches it.</summary>
    [CustomEditor(typeof(BakedSpeech))]
    public sealed class BakedSpeechEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var s = (BakedSpeech)target;
            BakedTrack track;
            string error;
            if (!s.TryGetTrack(out track, out error)) { EditorGUILayout.HelpBox(error, MessageType.Error); return; }
            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Motion", string.Format("{0} frames at {1:0.##} fps ({2:F2} s)", track.FrameCount, track.Fps, track.Duration));
            if (s.audio == null)
                EditorGUILayout.HelpBox("No AudioClip: BakedSpeechPlayer needs one (or Drive() from your audio middleware).", MessageType.Warning);
            else
                EditorGUILayout.LabelField("Audio", string.Format("{0} ({1:F2} s)", s.audio.name, s.audio.length));
            EditorGUILayout.HelpBox("Play it with a Baked Speech Player, or export an AnimationClip: Window > vasa_bridge > Export Animation Clips.",
                                    MessageType.Info);
        }
    }
}
