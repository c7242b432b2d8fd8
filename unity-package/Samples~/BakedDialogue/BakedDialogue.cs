using System;
using UnityEngine;
using VasaBridge;

namespace VasaBridge.Samples
{
    /// <summary>A scripted conversation from baked lines, with no runtime: each line names who says it
    /// (a BakedSpeechPlayer on that character, with an AudioSource and the usual drivers) and the
    /// BakedSpeech to play; lines follow one another with a gap. Pause, resume and skip show the
    /// faces staying on the sound.</summary>
    public sealed class BakedDialogue : MonoBehaviour
    {
        [Serializable]
        public sealed class Line
        {
            public BakedSpeechPlayer speaker;
            public BakedSpeech speech;
            [Tooltip("Silence after the line, seconds.")] public float gapAfter = 0.4f;
        }

        public Line[] lines = new Line[0];
        public bool playOnStart = true;

        int index = -1;
        float waitUntil = -1f;
        BakedSpeechPlayer speaking;
        string status = "ready";

        void Start() { if (playOnStart) Next(); }

        void OnDisable() { Listen(null); }

        void Listen(BakedSpeechPlayer p)
        {
            if (speaking != null) speaking.Finished -= OnFinished;
            speaking = p;
            if (speaking != null) speaking.Finished += OnFinished;
        }

        void OnFinished(BakedSpeech line)
        {
            Listen(null);
            waitUntil = Time.time + (index >= 0 && index < lines.Length ? lines[index].gapAfter : 0f);
        }

        void Update()
        {
            if (waitUntil >= 0f && Time.time >= waitUntil) { waitUntil = -1f; Next(); }
        }

        public void Next()
        {
            if (speaking != null) speaking.Stop();
            Listen(null);
            index++;
            if (index >= lines.Length) { status = "the end"; return; }
            var l = lines[index];
            if (l.speaker == null || l.speech == null) { status = "line " + (index + 1) + " needs a speaker and a BakedSpeech"; return; }
            if (!l.speaker.Play(l.speech)) { status = "line " + (index + 1) + " could not play (see the console)"; return; }
            Listen(l.speaker);
            status = string.Format("{0}: {1} ({2:F1} s)", l.speaker.name, l.speech.name, l.speech.Duration);
        }

        void OnGUI()
        {
            GUILayout.BeginArea(new Rect(10, 10, 460, 140));
            GUILayout.Label("Line " + Math.Max(0, Math.Min(index + 1, lines.Length)) + "/" + lines.Length + " - " + status);
            if (speaking != null)
            {
                GUILayout.Label(string.Format("face at {0:F2} s, {1} seek(s)", speaking.Time, speaking.Jumps));
                if (GUILayout.Button(speaking.IsPaused ? "Resume" : "Pause"))
                {
                    if (speaking.IsPaused) speaking.UnPause(); else speaking.Pause();
                }
                if (GUILayout.Button("Back 0.5 s")) speaking.Seek(Math.Max(0, speaking.Time - 0.5));
            }
            if (GUILayout.Button(index + 1 < lines.Length ? "Skip to next line" : "Restart"))
            {
                if (index + 1 >= lines.Length) index = -1;
                Next();
            }
            GUILayout.EndArea();
        }
    }
}
