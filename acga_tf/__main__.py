"""`python -m acga_tf`: the `acga` command (`acga_tf.cli`), run as a script, since nothing imports the command line
(docs/architecture.md)."""

import runpy

if __name__ == "__main__":
    runpy.run_module("acga_tf.cli", run_name="__main__", alter_sys=True)
