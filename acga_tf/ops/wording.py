"""How messages count things: "1 frame", "2 frames" (docs/architecture.md, the layers' table). Free of TensorFlow."""


def counted(n: int, noun: str) -> str:
    """"1 shard", "2 shards", "0 shards"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
