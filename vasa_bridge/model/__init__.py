"""The audio-to-motion model: config, network, denoiser, samplers, streaming windows, training,
export, bake and evaluation. Serving paths (`streaming`, `sampling`, `onnx_runtime`, `bake`) import
no torch."""
