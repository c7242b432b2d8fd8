using System;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>One baked voice line: the motion `vasa-bridge bake` made for it (52 ARKit blendshapes,
    /// head rotation and translation per frame) and the AudioClip it goes with. Made by the importer
    /// from a .vasatrack file (Editor/BakedSpeechImporter.cs), or at run time with FromJson; played by
    /// BakedSpeechPlayer. No runtime, no network.</summary>
    public sealed class BakedSpeech : ScriptableObject
    {
        [Tooltip("The voice line. The importer takes the AudioClip beside the .vasatrack with the same name.")]
        public AudioClip audio;

        [SerializeField, HideInInspector] double fps = 25;
        [SerializeField, HideInInspector] double start;
        [SerializeField, HideInInspector] int frameCount;
        [SerializeField, HideInInspector] float[] blendshapes = new float[0];      // frameCount * 52, ARKit canonical order
        [SerializeField, HideInInspector] float[] headRotation = new float[0];     // frameCount * 3, degrees
        [SerializeField, HideInInspector] float[] headTranslation = new float[0];  // frameCount * 3, metres

        [NonSerialized] BakedTrack track;

        public int FrameCount { get { return frameCount; } }
        public double Fps { get { return fps; } }
        /// <summary>Seconds covered by the motion (frames / fps).</summary>
        public double Duration { get { return fps > 0 ? frameCount / fps : 0; } }

        /// <summary>The motion, rebuilt once from the serialised arrays.</summary>
        public BakedTrack Track
        {
            get
            {
                if (track == null) track = new BakedTrack(fps, start, blendshapes, headRotation, headTranslation);
                return track;
            }
        }

        /// <summary>The track, or false and a one-line reason when the serialised data is not a valid track.</summary>
        public bool TryGetTrack(out BakedTrack t, out string error)
        {
            try { t = Track; error = null; return true; }
            catch (TrackFormatException e) { t = null; error = e.Message; return false; }
        }

        public void SetTrack(BakedTrack t)
        {
            if (t == null) throw new ArgumentNullException("t");
            fps = t.Fps;
            start = t.Start;
            frameCount = t.FrameCount;
            blendshapes = t.CopyBlendshapes();
            headRotation = t.CopyHeadRotation();
            headTranslation = t.CopyHeadTranslation();
            track = t;
        }

        public static BakedSpeech Create(BakedTrack t, AudioClip clip)
        {
            var s = CreateInstance<BakedSpeech>();
            s.SetTrack(t);
            s.audio = clip;
            return s;
        }

        /// <summary>A line from the bake's JSON text (e.g. a TextAsset or a downloaded file); throws
        /// TrackFormatException with a one-line reason when the text is not a baked track.</summary>
        public static BakedSpeech FromJson(string json, AudioClip clip = null)
        {
            return Create(BakedTrackJson.Parse(json), clip);
        }

        /// <summary>A line from the bake's compact binary (.vasab bytes, e.g. a TextAsset's bytes).</summary>
        public static BakedSpeech FromBinary(byte[] vasab, AudioClip clip = null)
        {
            return Create(BakedTrackBinary.Parse(vasab), clip);
        }

        void OnValidate() { track = null; }
    }
}
