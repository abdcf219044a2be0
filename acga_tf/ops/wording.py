"""How messages count things: "1 frame", "2 frames" (docs/architecture.md, the layers' table). Free of TensorFlow."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 shard", "2 shards", "0 shards"; `plural` where adding an s is wrong ("1 match", "2 matches")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
