using System.IO;
using UnityEditor;
using UnityEditor.AssetImporters;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge.Editor
{
    /// <summary>Imports `vasa-bridge bake -o LINE.vasatrack` files (the bake's JSON) and `-o LINE.vasab`
    /// files (its compact binary) as BakedSpeech assets. The voice line is paired by name: LINE.wav / .ogg / .mp3 / .aiff beside the file, unless
    /// one is set in the importer. A file that is not a baked track logs one line and imports nothing.</summary>
    [ScriptedImporter(1, new[] { "vasatrack", "vasab" })]
    public sealed class BakedSpeechImporter : ScriptedImporter
    {
        [Tooltip("The voice line. Empty: the AudioClip beside this file with the same name.")]
        public AudioClip audioClip;

        const double MaxLengthMismatchSeconds = 0.1;
        static readonly string[] AudioExtensions = { ".wav", ".ogg", ".mp3", ".aiff", ".aif", ".flac" };

        public override void OnImportAsset(AssetImportContext ctx)
        {
            BakedTrack track;
            try
            {
                track = ctx.assetPath.EndsWith(".vasab", System.StringComparison.OrdinalIgnoreCase)
                    ? BakedTrackBinary.Parse(File.ReadAllBytes(ctx.assetPath))
                    : BakedTrackJson.Parse(File.ReadAllText(ctx.assetPath));
            }
            catch (TrackFormatException e)
            {
                Debug.LogError("[vasa_bridge] " + ctx.assetPath + ": " + e.Message + " (re-bake it with vasa-bridge bake -o LINE.vasatrack or .vasab)");
                return;
            }
            catch (IOException e)
            {
                Debug.LogError("[vasa_bridge] " + ctx.assetPath + " could not be read: " + e.Message);
                return;
            }
            var clip = audioClip != null ? audioClip : PairedClip(ctx);
            // A line paired with the wrong voice clip shows as a length mismatch.
            if (clip != null && System.Math.Abs(clip.length - track.Duration) > MaxLengthMismatchSeconds)
                Debug.LogWarning("[vasa_bridge] " + ctx.assetPath + ": the motion lasts " + track.Duration.ToString("F2") + " s but '"
                                 + clip.name + "' lasts " + clip.length.ToString("F2") + " s: expected the clip the line was baked from");
            var speech = BakedSpeech.Create(track, clip);
            speech.name = Path.GetFileNameWithoutExtension(ctx.assetPath);
            ctx.AddObjectToAsset("speech", speech);
            ctx.SetMainObject(speech);
        }

        static AudioClip PairedClip(AssetImportContext ctx)
        {
            string stem = ctx.assetPath.Substring(0, ctx.assetPath.Length - Path.GetExtension(ctx.assetPath).Length);
            AudioClip found = null;
            foreach (var ext in AudioExtensions)
            {
                string path = stem + ext;
                // Declared even when missing: the line re-imports when its audio arrives or changes.
                ctx.DependsOnArtifact(path);
                if (found == null && File.Exists(path)) found = AssetDatabase.LoadAssetAtPath<AudioClip>(path);
            }
            return found;
        }
    }
}
