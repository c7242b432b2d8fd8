// Reference stubs of UniVRM 0.x (namespace VRM) and 1.0 (namespace UniVRM10) members the package
// uses (signatures only; see README.md).
using System.Collections.Generic;
using UnityEngine;

namespace VRM
{
    public enum BlendShapePreset { Unknown, Neutral, A, I, U, E, O, Blink, Joy, Angry, Sorrow, Fun, LookUp, LookDown, LookLeft, LookRight, Blink_L, Blink_R }

    public struct BlendShapeKey
    {
        public static BlendShapeKey CreateFromPreset(BlendShapePreset preset) { return default(BlendShapeKey); }
        public static BlendShapeKey CreateUnknown(string name) { return default(BlendShapeKey); }
    }

    public class VRMBlendShapeProxy : MonoBehaviour
    {
        public void SetValues(IEnumerable<KeyValuePair<BlendShapeKey, float>> values) { }
    }
}

namespace UniVRM10
{
    public readonly struct ExpressionKey
    {
        public static ExpressionKey CreateCustom(string key) { return default(ExpressionKey); }
        public static ExpressionKey Happy { get { return default(ExpressionKey); } }
        public static ExpressionKey Angry { get { return default(ExpressionKey); } }
        public static ExpressionKey Sad { get { return default(ExpressionKey); } }
        public static ExpressionKey Relaxed { get { return default(ExpressionKey); } }
        public static ExpressionKey Surprised { get { return default(ExpressionKey); } }
        public static ExpressionKey Aa { get { return default(ExpressionKey); } }
        public static ExpressionKey Ih { get { return default(ExpressionKey); } }
        public static ExpressionKey Ou { get { return default(ExpressionKey); } }
        public static ExpressionKey Ee { get { return default(ExpressionKey); } }
        public static ExpressionKey Oh { get { return default(ExpressionKey); } }
        public static ExpressionKey Blink { get { return default(ExpressionKey); } }
        public static ExpressionKey BlinkLeft { get { return default(ExpressionKey); } }
        public static ExpressionKey BlinkRight { get { return default(ExpressionKey); } }
        public static ExpressionKey LookUp { get { return default(ExpressionKey); } }
        public static ExpressionKey LookDown { get { return default(ExpressionKey); } }
        public static ExpressionKey LookLeft { get { return default(ExpressionKey); } }
        public static ExpressionKey LookRight { get { return default(ExpressionKey); } }
        public static ExpressionKey Neutral { get { return default(ExpressionKey); } }
    }

    public sealed class Vrm10RuntimeExpression
    {
        public void SetWeightsNonAlloc(Dictionary<ExpressionKey, float> weights) { }
    }

    public sealed class Vrm10Runtime
    {
        public Vrm10RuntimeExpression Expression { get { return null; } }
    }

    public class Vrm10Instance : MonoBehaviour
    {
        public Vrm10Runtime Runtime { get { return null; } }
    }
}
