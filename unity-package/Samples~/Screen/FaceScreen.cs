using UnityEngine;
using VasaBridge;
using VasaBridge.Core;

namespace VasaBridge.Samples
{
    /// <summary>Builds a screen showing the runtime's rendered face: a quad in front of the camera
    /// with an unlit transparent material, a client receiving frames and audio, a
    /// FrameTextureDriver and an AudioSyncPlayer. Put it on an empty object and press Play.</summary>
    public sealed class FaceScreen : MonoBehaviour
    {
        public string endpoint = Protocol.DefaultDataEndpoint;
        public string stream = Protocol.DefaultStream;
        [Tooltip("Height of the screen in metres; the width follows the frames' aspect.")]
        public float height = 1f;
        public bool playVoice = true;

        FrameTextureDriver driver;
        Transform quad;

        void Awake()
        {
            gameObject.SetActive(false);
            var settings = ScriptableObject.CreateInstance<VasaBridgeSettings>();
            settings.dataEndpoint = endpoint;
            settings.stream = stream;
            settings.receiveMotion = false;  // frames drive the clock (audio when it plays)
            settings.receiveFrames = true;
            settings.receiveAudio = playVoice;
            var client = gameObject.AddComponent<VasaBridgeClient>();
            client.settings = settings;

            var q = GameObject.CreatePrimitive(PrimitiveType.Quad);
            q.name = "Face screen";
            q.transform.SetParent(transform, false);
            quad = q.transform;
            var shader = Shader.Find("Unlit/Transparent");
            if (shader != null) q.GetComponent<Renderer>().material = new Material(shader);

            driver = gameObject.AddComponent<FrameTextureDriver>();
            driver.targetRenderer = q.GetComponent<Renderer>();
            driver.materialAlpha = AlphaMode.Straight;  // Unlit/Transparent blends SrcAlpha, OneMinusSrcAlpha
            if (playVoice)
            {
                gameObject.AddComponent<AudioSource>();
                gameObject.AddComponent<AudioSyncPlayer>();
            }
            gameObject.SetActive(true);
        }

        void Update()
        {
            var t = driver.Texture;
            if (t != null) quad.localScale = new Vector3(height * t.width / t.height, height, 1f);
        }
    }
}
