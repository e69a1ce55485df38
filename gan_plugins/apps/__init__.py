"""What users run on a trained model: the demo report (:mod:`.demo`), the studio web app (:mod:`.studio`) and
export to TorchScript / ONNX (:mod:`.export`)."""
