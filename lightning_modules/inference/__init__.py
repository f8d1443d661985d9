"""After training: the span predictor behind predict.py and its backends, HF and ONNX export, and the HTTP service."""
