"""Prediction as objects: validated options (``options``), the model's side of a window
(``model``), the images (``images``), one image's pipeline (``pipeline``) into its sinks
(``sinks``, ``writers``, ``polygons``) under a lock (``lock``) and a resume journal
(``journal``), the outputs made afterwards (``outputs``), the per-image loop (``run``) and
the many-process paths (``dist``). ``alt.predict`` (``altair.api.predict``) resolves the
model and calls them."""
