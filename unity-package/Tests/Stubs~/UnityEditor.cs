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

    public static class EditorGUILayout
    {
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
