using UnityEngine;
using VasaBridge;
using VasaBridge.Core;

namespace VasaBridge.Samples
{
    /// <summary>A minimal dialogue: each press of "Next line" makes the NPC say the next AudioClip.
    /// The NPC object needs: VasaBridgeClient (stream override = this NPC's id, e.g. npc1, with
    /// frames or motion received), NpcSpeaker, a way to show the face (FrameTextureDriver on a
    /// screen, or a BlendshapeDriver / VRM driver on a 3D head) and AudioSource + AudioSyncPlayer.
    /// The runtime must run with a portrait for that stream and its control channel open.</summary>
    public sealed class NpcDialogue : MonoBehaviour
    {
        public NpcSpeaker speaker;
        [Tooltip("The NPC's lines in order (Load Type: Decompress On Load).")]
        public AudioClip[] lines = new AudioClip[0];

        int next;
        string status = "ready";

        void OnEnable()
        {
            if (speaker == null) speaker = GetComponent<NpcSpeaker>();
            if (speaker == null) { status = "assign an NpcSpeaker"; enabled = false; return; }
            speaker.Accepted += OnAccepted;
            speaker.Failed += OnFailed;
        }

        void OnDisable()
        {
            if (speaker == null) return;
            speaker.Accepted -= OnAccepted;
            speaker.Failed -= OnFailed;
        }

        void OnAccepted(SpeakResult r) { status = string.Format("speaking on '{0}' for {1:F1} s", r.Stream, r.Duration); }
        void OnFailed(ControlException e) { status = "refused (" + e.Code + "): " + e.Message; }

        void OnGUI()
        {
            GUILayout.BeginArea(new Rect(10, 10, 420, 120));
            GUILayout.Label(name + ": " + status);
            GUI.enabled = lines.Length > 0 && !speaker.Busy;
            if (GUILayout.Button(lines.Length > 0 ? "Next line (" + (next % lines.Length + 1) + "/" + lines.Length + ")" : "No lines assigned"))
            {
                if (speaker.Speak(lines[next % lines.Length])) status = "sending...";
                next++;
            }
            GUI.enabled = true;
            GUILayout.EndArea();
        }
    }
}
