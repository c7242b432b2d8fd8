using System;
using System.Collections.Concurrent;
using System.Threading;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Makes an NPC say a line: sends an AudioClip to the runtime's control channel
    /// (`speak`, docs/protocol.md "Control channel") for this NPC's stream; the runtime animates the
    /// portrait and streams motion, frames and the same sound back on that stream, which this
    /// NPC's client, drivers and AudioSyncPlayer play in sync. The request runs on a worker thread.</summary>
    [AddComponentMenu("vasa_bridge/NPC Speaker")]
    public sealed class NpcSpeaker : ClientConsumer
    {
        [Tooltip("Said on Speak() with no argument (Load Type 'Decompress On Load', so its samples can be read).")]
        public AudioClip line;
        [Tooltip("The words of the line (optional, e.g. its subtitle): exact lips where they fit the sound. "
                 + "Names outside the dictionary are pronounced by rule; words that do not fit leave the mouth to the sound.")]
        [TextArea(2, 5)]
        public string lineText;
        [Tooltip("Language of the words (a code such as 'en'); only English is aligned, other languages are answered with a reason.")]
        public string language = "en";
        public bool speakOnStart = false;

        /// <summary>The runtime accepted the line: it starts at result.Pts on result.Stream.</summary>
        public event Action<SpeakResult> Accepted;
        /// <summary>The runtime refused the line or did not answer (ControlException.Code says which).</summary>
        public event Action<ControlException> Failed;

        readonly ConcurrentQueue<Action> results = new ConcurrentQueue<Action>();
        int pending;

        public bool Busy { get { return Volatile.Read(ref pending) > 0; } }
        public SpeakResult LastResult { get; private set; }
        public string LastError { get; private set; }

        protected override void Subscribe(VasaBridgeClient c) { }
        protected override void Unsubscribe(VasaBridgeClient c) { }

        void Start() { if (speakOnStart && line != null) Speak(line, lineText); }

        public void Speak() { Speak(line, lineText); }

        /// <summary>Send a clip, with its words if known (`text`: null or blank for none); returns
        /// false (and logs why) when it cannot be sent.</summary>
        public bool Speak(AudioClip clip, string text = null)
        {
            if (clip == null) { Fail("no AudioClip to speak"); return false; }
            if (client == null) { Fail("no VasaBridgeClient for this NPC"); return false; }
            if (text != null && text.Trim().Length == 0) text = null;
            string lang = text != null && !string.IsNullOrEmpty(language) ? language : null;
            // GetData must run on the main thread and needs decompressed samples.
            var samples = new float[clip.samples * clip.channels];
            if (!clip.GetData(samples, 0))
            {
                Fail("could not read the samples of '" + clip.name + "': set its Load Type to Decompress On Load");
                return false;
            }
            ControlClient control;
            try { control = client.CreateControlClient(); }
            catch (InvalidOperationException e) { Fail(e.Message); return false; }
            string stream = client.Stream;
            int rate = clip.frequency, channels = clip.channels;
            Interlocked.Increment(ref pending);
            SocketFactories.Acquire();
            var worker = new Thread(() =>
            {
                try
                {
                    var r = control.Speak(samples, rate, channels, stream, text, lang);
                    results.Enqueue(() => Accept(r));
                }
                catch (ArgumentException e) { results.Enqueue(() => Report(new ControlException("bad_argument", e.Message))); }
                catch (ControlException e) { results.Enqueue(() => Report(e)); }
                catch (Exception e) { results.Enqueue(() => Report(new ControlException("failed", e.GetType().Name + ": " + e.Message))); }
                finally
                {
                    SocketFactories.Release();
                    Interlocked.Decrement(ref pending);
                }
            }) { IsBackground = true, Name = "vasa_bridge speak" };
            worker.Start();
            return true;
        }

        void Update()
        {
            Action a;
            while (results.TryDequeue(out a)) a();
        }

        void Accept(SpeakResult r)
        {
            LastResult = r;
            LastError = null;
            // The line plays either way; words that did not drive the mouth (or left some of the
            // speech to the sound) are worth a line in the console.
            if (r.Text != null && (!r.Text.Used || r.Text.Unspoken.Length > 0))
                Debug.LogWarning("[vasa_bridge] NPC '" + name + "': " + r.Text.Message, this);
            if (Accepted != null) Accepted(r);
        }

        void Report(ControlException e)
        {
            LastError = e.Code + ": " + e.Message;
            Debug.LogWarning("[vasa_bridge] NPC '" + name + "' could not speak: " + LastError, this);
            if (Failed != null) Failed(e);
        }

        void Fail(string why) { Report(new ControlException("bad_argument", why)); }
    }
}
