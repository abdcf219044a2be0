"""Training: `fit` (`acga_tf.training.train`: a run from shards, with backups, resume, checkpoints and
TensorBoard logs, on one device or under a `tf.distribute` strategy), `ExperimentConfig` (`experiment`: model, data
and schedule in one), the trained run's files (`artifacts`: `load_trained`), weights of the reference and of
DeepMind's I3D (`weights`), the feature cache (`feature_cache`) and a cluster's checks (`cluster`). Import the module
you need; docs/training.md."""
