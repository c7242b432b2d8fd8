// Reference stubs of the UnityEngine members the package uses (signatures only; see README.md).
using System;
using System.Collections.Generic;

namespace UnityEngine
{
    public class Object
    {
        public string name { get; set; }
        public static void Destroy(Object obj) { }
        public static bool operator ==(Object a, Object b) { return ReferenceEquals(a, b); }
        public static bool operator !=(Object a, Object b) { return !ReferenceEquals(a, b); }
        public static implicit operator bool(Object o) { return !ReferenceEquals(o, null); }
        public override bool Equals(object o) { return ReferenceEquals(this, o); }
        public override int GetHashCode() { return 0; }
    }

    public class Component : Object
    {
        public GameObject gameObject { get { return null; } }
        public Transform transform { get { return null; } }
        public T GetComponent<T>() { return default(T); }
        public T GetComponentInParent<T>() { return default(T); }
        public T[] GetComponentsInChildren<T>(bool includeInactive) { return null; }
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
        public bool isActiveAndEnabled { get { return false; } }
    }

    public class MonoBehaviour : Behaviour { }

    public class ScriptableObject : Object
    {
        public static T CreateInstance<T>() where T : ScriptableObject { return null; }
    }

    public sealed class GameObject : Object
    {
        public GameObject(string name) { }
        public Transform transform { get { return null; } }
        public T AddComponent<T>() where T : Component { return null; }
        public T GetComponent<T>() { return default(T); }
        public void SetActive(bool value) { }
        public static GameObject CreatePrimitive(PrimitiveType type) { return null; }
    }

    public enum PrimitiveType { Sphere, Capsule, Cylinder, Cube, Plane, Quad }

    public class Transform : Component
    {
        public Transform parent { get; set; }
        public Quaternion rotation { get; set; }
        public Quaternion localRotation { get; set; }
        public Vector3 localPosition { get; set; }
        public Vector3 localScale { get; set; }
        public void SetParent(Transform parent, bool worldPositionStays) { }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 operator +(Vector3 a, Vector3 b) { return a; }
        public static Vector3 operator *(Vector3 a, float d) { return a; }
    }

    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity { get { return new Quaternion(0, 0, 0, 1); } }
        public static Quaternion Inverse(Quaternion q) { return q; }
        public static Quaternion Slerp(Quaternion a, Quaternion b, float t) { return a; }
        public static Quaternion SlerpUnclamped(Quaternion a, Quaternion b, float t) { return a; }
        public static Quaternion Euler(float x, float y, float z) { return identity; }
        public static Quaternion operator *(Quaternion a, Quaternion b) { return a; }
    }

    public struct Rect
    {
        public Rect(float x, float y, float width, float height) { }
    }

    public static class Mathf
    {
        public static float Clamp01(float value) { return value; }
        public static float Max(float a, float b) { return a; }
    }

    public static class Debug
    {
        public static void Log(object message) { }
        public static void Log(object message, Object context) { }
        public static void LogWarning(object message) { }
        public static void LogWarning(object message, Object context) { }
        public static void LogError(object message) { }
        public static void LogError(object message, Object context) { }
        public static void LogException(Exception exception) { }
    }

    public static class Time
    {
        public static double realtimeSinceStartupAsDouble { get { return 0; } }
        public static float time { get { return 0; } }
    }

    public static class Application
    {
        public static bool isPlaying { get { return false; } }
        public static event Action quitting;
    }

    public enum HumanBodyBones { Hips = 0, Neck = 9, Head = 10 }

    public class RuntimeAnimatorController : Object { }

    public class Animator : Behaviour
    {
        public bool isHuman { get { return false; } }
        public RuntimeAnimatorController runtimeAnimatorController { get; set; }
        public Transform GetBoneTransform(HumanBodyBones bone) { return null; }
    }

    public class Mesh : Object
    {
        public int blendShapeCount { get { return 0; } }
        public string GetBlendShapeName(int shapeIndex) { return null; }
    }

    public class Renderer : Component
    {
        public Material material { get; set; }
        public void GetPropertyBlock(MaterialPropertyBlock properties) { }
        public void SetPropertyBlock(MaterialPropertyBlock properties) { }
    }

    public class SkinnedMeshRenderer : Renderer
    {
        public Mesh sharedMesh { get; set; }
        public void SetBlendShapeWeight(int index, float value) { }
        public float GetBlendShapeWeight(int index) { return 0; }
    }

    public class Shader : Object
    {
        public static Shader Find(string name) { return null; }
    }

    public class Material : Object
    {
        public Material(Shader shader) { }
    }

    public sealed class MaterialPropertyBlock
    {
        public void SetTexture(string name, Texture value) { }
    }

    public enum TextureFormat { RGBA32 = 4, BGRA32 = 14 }
    public enum TextureWrapMode { Repeat, Clamp }
    public enum FilterMode { Point, Bilinear, Trilinear }

    public class Texture : Object
    {
        public virtual int width { get { return 0; } }
        public virtual int height { get { return 0; } }
        public TextureWrapMode wrapMode { get; set; }
        public FilterMode filterMode { get; set; }
    }

    public sealed class Texture2D : Texture
    {
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain) { }
        public TextureFormat format { get { return TextureFormat.RGBA32; } }
        public Unity.Collections.NativeArray<T> GetRawTextureData<T>() where T : struct { return default(Unity.Collections.NativeArray<T>); }
        public void Apply(bool updateMipmaps) { }
    }

    public class RenderTexture : Texture { }

    public static class Graphics
    {
        public static void Blit(Texture source, RenderTexture dest) { }
    }

    public enum AudioSpeakerMode { Mono = 1, Stereo = 2, Quad = 3, Surround = 4, Mode5point1 = 5, Mode7point1 = 6, Prologic = 7 }

    public sealed class AudioClip : Object
    {
        public int samples { get { return 0; } }
        public int channels { get { return 0; } }
        public int frequency { get { return 0; } }
        public float length { get { return 0; } }
        public bool GetData(float[] data, int offsetSamples) { return false; }
        public static AudioClip Create(string name, int lengthSamples, int channels, int frequency, bool stream) { return null; }
    }

    public sealed class AudioSource : Behaviour
    {
        public AudioClip clip { get; set; }
        public bool loop { get; set; }
        public bool isPlaying { get { return false; } }
        public int timeSamples { get; set; }
        public float pitch { get; set; }
        public void Play() { }
        public void PlayScheduled(double time) { }
        public void Pause() { }
        public void UnPause() { }
        public void Stop() { }
    }

    public static class AudioSettings
    {
        public static int outputSampleRate { get { return 48000; } }
        public static double dspTime { get { return 0; } }
        public static AudioSpeakerMode speakerMode { get; set; }
        public static void GetDSPBufferSize(out int bufferLength, out int numBuffers) { bufferLength = 0; numBuffers = 0; }
    }

    public static class GUI
    {
        public static bool enabled { get; set; }
    }

    public sealed class GUILayoutOption { }

    public static class GUILayout
    {
        public static void BeginArea(Rect screenRect) { }
        public static void EndArea() { }
        public static void Label(string text, params GUILayoutOption[] options) { }
        public static bool Button(string text, params GUILayoutOption[] options) { return false; }
        public static GUILayoutOption ExpandWidth(bool expand) { return null; }
    }

    public static class GUILayoutUtility
    {
        public static Rect GetRect(float width, float height, params GUILayoutOption[] options) { return default(Rect); }
    }

    public enum RuntimeInitializeLoadType { AfterSceneLoad, BeforeSceneLoad, SubsystemRegistration }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HideInInspector : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HeaderAttribute : Attribute { public HeaderAttribute(string header) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class RangeAttribute : Attribute { public RangeAttribute(float min, float max) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TextAreaAttribute : Attribute { public TextAreaAttribute() { } public TextAreaAttribute(int minLines, int maxLines) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DefaultExecutionOrder : Attribute { public DefaultExecutionOrder(int order) { } }
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)] public sealed class RequireComponent : Attribute { public RequireComponent(Type requiredComponent) { } }
    [AttributeUsage(AttributeTargets.Class)]
    public sealed class CreateAssetMenuAttribute : Attribute
    {
        public string fileName { get; set; }
        public string menuName { get; set; }
    }
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class RuntimeInitializeOnLoadMethodAttribute : Attribute
    {
        public RuntimeInitializeOnLoadMethodAttribute() { }
        public RuntimeInitializeOnLoadMethodAttribute(RuntimeInitializeLoadType loadType) { }
    }
}

namespace UnityEngine.UI
{
    public class RawImage : Behaviour
    {
        public Texture texture { get; set; }
    }
}

namespace Unity.Collections
{
    public struct NativeArray<T> : IDisposable where T : struct
    {
        public int Length { get { return 0; } }
        public void Dispose() { }
        public static void Copy(T[] src, NativeArray<T> dst, int length) { }
        public static void Copy(T[] src, int srcIndex, NativeArray<T> dst, int dstIndex, int length) { }
    }
}

namespace UnityEngine.Serialization
{
    [AttributeUsage(AttributeTargets.Field, AllowMultiple = true)]
    public sealed class FormerlySerializedAsAttribute : Attribute { public FormerlySerializedAsAttribute(string oldName) { } }
}
