#if VASA_UNIVRM1
using System.Collections.Generic;
using UnityEngine;
using UniVRM10;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>UniVRM 1.0: sets every expression weight at once through
    /// Vrm10Instance.Runtime.Expression.SetWeightsNonAlloc (one merge per frame, no garbage; SetWeight
    /// per key would re-run the merge each time). Presets come from the ARKit coefficients
    /// (docs/protocol.md "Conversions to VRM expressions"); Perfect Sync custom expressions optional.</summary>
    [AddComponentMenu("vasa_bridge/VRM 1.0 Expression Driver")]
    public sealed class Vrm10ExpressionDriver : MotionConsumer
    {
        public Vrm10Instance vrm;
        [Tooltip("Also set the 52 Perfect Sync custom expressions (JawOpen, EyeBlinkLeft, ...) when the avatar has them.")]
        public bool perfectSync = false;
        public bool presets = true;
        [Range(0f, 2f)] public float intensity = 1f;

        readonly Dictionary<ExpressionKey, float> values = new Dictionary<ExpressionKey, float>();
        readonly float[] weights = new float[VrmExpressions.Count];
        ExpressionKey[] presetKeys;
        ExpressionKey[] syncKeys;

        protected override void OnEnable()
        {
            if (vrm == null) vrm = GetComponentInParent<Vrm10Instance>();
            if (vrm == null)
            {
                Debug.LogWarning("[vasa_bridge] Vrm10ExpressionDriver on '" + name + "' found no Vrm10Instance: assign one", this);
                enabled = false;
                return;
            }
            // Same order as VrmExpressions.Vrm1Presets.
            presetKeys = new[]
            {
                ExpressionKey.Happy, ExpressionKey.Angry, ExpressionKey.Sad, ExpressionKey.Relaxed, ExpressionKey.Surprised,
                ExpressionKey.Aa, ExpressionKey.Ih, ExpressionKey.Ou, ExpressionKey.Ee, ExpressionKey.Oh,
                ExpressionKey.Blink, ExpressionKey.BlinkLeft, ExpressionKey.BlinkRight,
                ExpressionKey.LookUp, ExpressionKey.LookDown, ExpressionKey.LookLeft, ExpressionKey.LookRight,
                ExpressionKey.Neutral,
            };
            syncKeys = new ExpressionKey[ArkitNames.Count];
            for (int k = 0; k < syncKeys.Length; k++) syncKeys[k] = ExpressionKey.CreateCustom(ArkitNames.ToPascal(ArkitNames.Get(k)));
            values.Clear();
            base.OnEnable();
        }

        protected override void OnMotion(MotionFrame f)
        {
            if (vrm.Runtime == null) return;  // not initialised yet
            if (presets)
            {
                VrmExpressions.ComputeVrm1(f.Blendshapes, weights);
                for (int i = 0; i < weights.Length; i++) values[presetKeys[i]] = Mathf.Clamp01(weights[i] * intensity);
            }
            if (perfectSync)
                for (int k = 0; k < syncKeys.Length; k++) values[syncKeys[k]] = Mathf.Clamp01(f.Blendshapes[k] * intensity);
            vrm.Runtime.Expression.SetWeightsNonAlloc(values);
        }
    }
}
#endif
