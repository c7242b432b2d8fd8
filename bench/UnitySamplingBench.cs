// The Unity player's per-frame cost per character, outside Unity (Mono, Core only): what
// BakedSpeechPlayer and the drivers compute each frame for one NPC — BakedPlayback.Update (the
// audio reading through the playback clock, then the track sample (52 blendshapes interpolated, head rotation slerped), the blendshape weights for a
// 60-shape face (BlendshapeDriver), the VRM 1.0 presets (Vrm10ExpressionDriver) and the head's
// Unity rotation (HeadPoseDriver). Engine calls (SetBlendShapeWeight, transforms) are not in it.
// Baseline in the same process: copying the nearest frame (GetFrame) and nothing else.
//
//   bash bench/bench_unity_sampling.sh [characters...]
using System;
using System.Collections.Generic;
using System.Diagnostics;
using VasaBridge.Core;

static class UnitySamplingBench
{
    sealed class Npc
    {
        public BakedTrack Track;
        public BakedPlayback Playback = new BakedPlayback();
        public MotionFrame Frame = new MotionFrame();
        public float[] MeshWeights = new float[60];
        public float[] Vrm = new float[VrmExpressions.Count];
        public double Offset;
    }

    static BakedTrack RandomTrack(int frames, int seed)
    {
        var rng = new Random(seed);
        var shapes = new float[frames * 52];
        var rot = new float[frames * 3];
        var tr = new float[frames * 3];
        for (int i = 0; i < shapes.Length; i++) shapes[i] = (float)rng.NextDouble();
        for (int i = 0; i < rot.Length; i++) rot[i] = (float)(rng.NextDouble() * 40 - 20);
        for (int i = 0; i < tr.Length; i++) tr[i] = (float)(rng.NextDouble() * 0.04 - 0.02);
        return new BakedTrack(25, 0, shapes, rot, tr);
    }

    static double Run(List<Npc> npcs, List<BlendshapeBinding> bindings, int frames, bool full)
    {
        double now = 0, sink = 0;
        var sw = Stopwatch.StartNew();
        for (int f = 0; f < frames; f++)
        {
            now += 1 / 60.0;
            foreach (var n in npcs)
            {
                double audio = (now + n.Offset) % n.Track.Duration;
                if (full)
                {
                    // timeSamples of a 1024-sample buffer at 48 kHz, as the player reads it
                    int samples = (int)(Math.Floor(audio * 48000 / 1024) * 1024);
                    bool finished;
                    n.Playback.Update(new AudioReading(true, samples, 48000, (int)(n.Track.Duration * 48000), now, 1.0), now, n.Frame, out finished);
                    NameMapping.ApplyWeights(n.Frame.Blendshapes, bindings, n.MeshWeights);
                    VrmExpressions.ComputeVrm1(n.Frame.Blendshapes, n.Vrm);
                    var q = HeadPose.ToUnityRotation(n.Frame.HeadRotation);
                    sink += q.W + n.MeshWeights[3] + n.Vrm[5];
                }
                else
                {
                    n.Track.GetFrame((int)(audio * n.Track.Fps), n.Frame);
                    sink += n.Frame.Blendshapes[17];
                }
            }
        }
        sw.Stop();
        if (sink == 12345.678) Console.WriteLine("");  // keep the work observable
        return sw.Elapsed.TotalMilliseconds / ((double)frames * npcs.Count);
    }

    static int Main(string[] args)
    {
        var counts = new List<int>();
        foreach (var a in args) counts.Add(int.Parse(a));
        if (counts.Count == 0) counts.AddRange(new[] { 1, 10, 100 });
        // A 60-shape face: the 52 ARKit names in Perfect Sync spelling plus 8 others.
        var meshNames = new List<string>();
        for (int k = 0; k < ArkitNames.Count; k++) meshNames.Add(ArkitNames.ToPascal(ArkitNames.Get(k)));
        for (int k = 0; k < 8; k++) meshNames.Add("Extra" + k);
        var bindings = NameMapping.Bind(meshNames);
        Console.WriteLine("Unity baked playback, Core work per character per frame ("
                          + Environment.ProcessorCount + " CPUs), 3 s lines at 25 fps, game at 60 fps, " + bindings.Count + " bound shapes");
        Console.WriteLine(string.Format("{0,10} {1,14} {2,16} {3,8}", "characters", "full (ms)", "baseline (ms)", "ratio"));
        bool ok = true;
        foreach (int count in counts)
        {
            var npcs = new List<Npc>();
            for (int i = 0; i < count; i++)
            {
                var npc = new Npc { Track = RandomTrack(75, i), Offset = i * 0.37 };
                npc.Playback.Begin(npc.Track);
                npcs.Add(npc);
            }
            int frames = Math.Max(200, 200000 / count);
            Run(npcs, bindings, frames / 4, true);   // JIT and caches warm
            Run(npcs, bindings, frames / 4, false);
            double best = double.MaxValue, baseline = double.MaxValue;
            for (int rep = 0; rep < 5; rep++)
            {
                best = Math.Min(best, Run(npcs, bindings, frames, true));
                baseline = Math.Min(baseline, Run(npcs, bindings, frames, false));
            }
            Console.WriteLine(string.Format("{0,10} {1,14:F5} {2,16:F5} {3,8:F1}", count, best, baseline, best / baseline));
            ok &= best <= 0.05;
        }
        Console.WriteLine("target <= 0.05 ms per character per frame: " + (ok ? "met" : "NOT met"));
        return ok ? 0 : 1;
    }
}
