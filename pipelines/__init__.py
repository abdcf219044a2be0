"""Offline pipelines over `acga_tf`: dataset conversion to TFRecord shards (local process pool or Apache Beam)."""
