"""Programs that tests/test_backends.py runs in subprocesses, one Keras backend each (`KERAS_BACKEND`):
`python -m tests.backend_programs.<name> ...` from the repository root."""
