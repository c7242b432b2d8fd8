// Reference stubs of the UnityEditor members the package uses (signatures only; see README.md).
using System;
using Object = UnityEngine.Object;
using UnityEngine;

namespace UnityEditor
{
    public class Editor : ScriptableObject
    {
        public Object target { get { return null; } }
        public virtual void OnInspectorGUI() { }
        public virtual bool RequiresConstantRepaint() { return false; }
        public bool DrawDefaultInspector() { return false; }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class CustomEditor : Attribute { public CustomEditor(Type inspectedType) { } }

    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MenuItem : Attribute { public MenuItem(string itemName, bool isValidateFunction, int priority) { } }

    public sealed class MenuCommand { public Object context; }

    public enum MessageType { None, Info, Warning, Error }

    public static class EditorStyles { public static GUIStyle boldLabel { get { return null; } } }

    public class AssetImporter : Object { }

    public class EditorWindow : ScriptableObject
    {
        public static T GetWindow<T>(string title) where T : EditorWindow { return null; }
        public void Show() { }
    }

    public static class AnimationUtility
    {
        public static string CalculateTransformPath(Transform targetTransform, Transform root) { return null; }
    }

    public static class EditorGUILayout
    {
        public static Object ObjectField(string label, Object obj, Type objType, bool allowSceneObjects, params GUILayoutOption[] options) { return obj; }
        public static float FloatField(string label, float value, params GUILayoutOption[] options) { return value; }
        public static void LabelField(string label, params GUILayoutOption[] options) { }
        public static void LabelField(string label, GUIStyle style, params GUILayoutOption[] options) { }
        public static void LabelField(string label, string label2, params GUILayoutOption[] options) { }
        public static void HelpBox(string message, MessageType type) { }
        public static void Space() { }
    }

    public static class EditorGUI
    {
        public static void ProgressBar(Rect position, float value, string text) { }
    }

    public static class EditorUtility
    {
        public static string SaveFilePanelInProject(string title, string defaultName, string extension, string message) { return null; }
        public static void SetDirty(Object target) { }
    }

    public static class AssetDatabase
    {
        public static string GetAssetPath(Object assetObject) { return null; }
        public static void ImportAsset(string path) { }
        public static T LoadAssetAtPath<T>(string assetPath) where T : Object { return null; }
        public static void CreateAsset(Object asset, string path) { }
        public static void SaveAssets() { }
    }

    public static class GameObjectUtility
    {
        public static void SetParentAndAlign(GameObject child, GameObject parent) { }
    }

    public static class Undo
    {
        public static void RegisterCreatedObjectUndo(Object objectToUndo, string name) { }
    }

    public static class Selection
    {
        public static Object[] objects { get; set; }
        public static Object activeObject { get; set; }
    }

    public static class AssemblyReloadEvents
    {
        public delegate void AssemblyReloadCallback();
        public static event AssemblyReloadCallback beforeAssemblyReload;
    }
}

namespace UnityEngine
{
    public sealed class GUIStyle { }
}

namespace UnityEditor.AssetImporters
{
    public abstract class ScriptedImporter : UnityEditor.AssetImporter
    {
        public abstract void OnImportAsset(AssetImportContext ctx);
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class ScriptedImporterAttribute : Attribute
    {
        public ScriptedImporterAttribute(int version, string ext) { }
        public ScriptedImporterAttribute(int version, string[] exts) { }
    }

    public sealed class AssetImportContext
    {
        public string assetPath { get { return null; } }
        public void AddObjectToAsset(string identifier, Object obj) { }
        public void SetMainObject(Object obj) { }
        public void DependsOnArtifact(string path) { }
    }
}
