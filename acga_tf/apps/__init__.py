"""What users run: `predict` (`acga_tf.apps.predict`: a video and sentences to masks, overlays and PNGs),
`predict_list` (`acga_tf.apps.batch`: a list of videos), `evaluate` (`acga_tf.apps.evaluate`: the benchmark's
protocol on prepared shards), the figures (`acga_tf.apps.visualize`), the web page (`acga_tf.apps.app`) and the demo
(`acga_tf.apps.demo.run_demo`). Import the module you need; docs/serving.md#predict, docs/evaluation.md."""
