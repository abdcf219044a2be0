"""The lowest layer, used by all others: atomic file writes and output checks (`files`), devices and precisions
(`devices`), progress output (`progress`), the letterbox geometry (`geometry`), post-processing of the logits into
masks (`postprocess`, `threshold`), config base class (`config`), error messages (`errors`) and TensorFlow's start-up
lines (`native_log`). docs/architecture.md."""
