"""The defaults and bounds of the apps that the `acga` command's options state: plain values, free of TensorFlow,
so that `acga demo --help`, `acga app --help`, `acga predict --help` and `acga visualize --help` answer without
loading it (`acga_tf/command_options.py`, docs/architecture.md). `demo`, `app`, `predictors` and `visualize` take
them from here.
"""

# demo: synthetic videos, 80% train (about 4,100 samples), 20% held out (about 1,000)
DEMO_VIDEOS = 480
DEMO_TEST_FRACTION = 0.2
# The "demo" experiment (`acga_tf.training.defaults`): the tiny topology at S=128 (an 8x8 attention grid, so that
# actors span a few cells), 5 epochs of about 515 steps, the learning rate x0.1 for the last, attention init std
# 0.2 (docs/model.md#initialisation). Measured on 2 cores: with 72 training videos the model learnt the training
# clips but not the task (train mean IoU 0.54, held out 0.28); more videos seen fewer times generalise.
DEMO_PRESET = "demo"

# app: what one visitor may ask of the page (it serves one request at a time): the most frames a video may have (5
# minutes at 30 frames a second; `acga app --max-frames`) and the largest upload (`--max-upload-mb`).
MAX_FRAMES = 9000
MAX_UPLOAD_MB = 1024
# The most sentences a request may have (`--max-sentences`): the overlay's colours, each told apart (past them they
# repeat). A reviewer's 200 lines held 4 GB more of the server (about 20 MB a sentence, kept by the allocator).
MAX_SENTENCES = 7
# The most pixels a frame may have (`--max-pixels`): 4K UHD. An 8K video (the reader's own bound) held 3.8 GB while a
# 100 KB upload of one was segmented, at 0.26 s a frame on 2 cores (a security reviewer's measurement).
MAX_PIXELS = 3840 * 2160

# predictors: a TF Serving server's time for one whole answer (`acga predict --timeout`)
SERVER_TIMEOUT_S = 600.0

# visualize: a PNG figure's pixels per inch, where not given (`acga visualize --dpi`)
FIGURE_DPI = 100
# A vector figure's images, in pixels per inch, where not given: a PDF's 1280 x 720 frames were 205 x 115 at the
# PNG's 100 (a reviewer's), and at their own pixels an EPS attention figure was 22 MB (the next reviewer's); at 300 a
# grid of 3-inch panels holds frames of about 900 pixels across (`acga visualize --dpi` sets it)
VECTOR_IMAGE_DPI = 300
