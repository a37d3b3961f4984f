"""``python -m helpers.pipeline``: the same as ``python -m helpers.pipeline.run`` (``make figures``)."""
import sys

from .run import main

sys.exit(main())
