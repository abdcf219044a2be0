"""The model, plain Keras 3 (no TensorFlow import: it runs under JAX and PyTorch too): `ACGA` and `ACGAConfig`
(`acga_tf.models.acga`, `acga_tf.models.config`, presets in `acga_tf.models.presets`), its layers (`I3D` in
`video_encoder`, `TextEncoder` in `text_encoder`, `CrossGuidedAttention` in `attention`, the decoder in `decoder`),
the losses and metrics (`losses`, `metrics`). Import the module you need; docs/model.md, docs/architecture.md."""
